// Element-wise ops: broadcasting arithmetic (add, sub, mul, div; either side may be a number) and the functions
// neg, tanh, sigmoid, relu, exp, log. Each op's host loop (float32 results, gradients summed in float64 where
// broadcasting folds them) and its device branch (the kernels of ../device-kernels) sit side by side.
import { checkNumber, shapeText, sameShape } from '../../checks';
import { checkAllocation } from '../../limits';
import { Tensor } from '../../tensor';
import { broadcastMap, broadcastShapes, broadcastStrides, contiguous, numel } from '../../shape';
import { BINARY, Buf, TensorKernels, UNARY, UnaryCode, filled } from '../device-kernels';
import { alloc, binaryInto, copyOf, opOf, recordOn, scaledCopy, sumToShape, wrap } from '../device-support';
import { F32, checkFloat, deviceOf, record } from './common';

// ---------------------------------------------------------------------------------------------------------
// Broadcasting arithmetic

export type Operand = Tensor<'float32'> | number;

/** One side of a binary op: a checked tensor, or a number (a 0-d operand). */
interface Side {
  tensor: F32 | null;
  scalar: number;
  shape: readonly number[];
}

function operand(op: string, name: string, value: unknown): Side {
  if (typeof value === 'number') return { tensor: null, scalar: value, shape: [] };
  const t = checkFloat(op, name, value);
  return { tensor: t, scalar: 0, shape: t.shape };
}

// read on the host path only: a CUDA tensor's .data throws
function hostValues(side: Side): Float32Array {
  return side.tensor ? side.tensor.data : Float32Array.of(side.scalar);
}

type Partial = (g: number, x: number, y: number, z: number) => number;
type BinaryKind = 'add' | 'mul' | 'div';

/**
 * z = f(x, y) element-wise with broadcasting; da/db give dL/dx and dL/dy of one element from dL/dz. Values of x,
 * y and z are kept for backward only when `saves` (the partials read them).
 */
function binary(op: string, name: string, a: unknown, b: unknown, f: (x: number, y: number) => number, da: Partial, db: Partial, saves: boolean,
  device: { kind: BinaryKind; alpha: number }): F32 {
  if (typeof a === 'number' && typeof b === 'number') {
    throw new TypeError(`Expected a Tensor for input or other of ${op} but received two numbers`);
  }
  const A = operand(op, 'input', a);
  const B = operand(op, 'other', b);
  const shape = broadcastShapes(A.shape, B.shape);
  const k = deviceOf([['input', A.tensor], ['other', B.tensor]]);
  if (k) return binaryOnDevice(k, device.kind, name, A, B, shape, device.alpha);
  const n = numel(shape);
  // broadcasting can make the result far larger than either operand: refused past the memory limit before the
  // result and its two index maps (Int32Array, one element per result element) are allocated
  const maps = (sameShape(A.shape, shape) ? 0 : 1) + (sameShape(B.shape, shape) ? 0 : 1);
  checkAllocation(`${op} of shape ${shapeText(shape)}`, [['result', 4 * n], ['broadcast index maps', 4 * n * maps]]);
  const mapA = broadcastMap(A.shape, shape);
  const mapB = broadcastMap(B.shape, shape);
  const out = new Float32Array(n);
  const x = hostValues(A);
  const y = hostValues(B);
  if (mapA === null && mapB === null) for (let k = 0; k < n; k++) out[k] = f(x[k], y[k]);
  else if (mapA === null) for (let k = 0; k < n; k++) out[k] = f(x[k], y[mapB![k]]);
  else if (mapB === null) for (let k = 0; k < n; k++) out[k] = f(x[mapA[k]], y[k]);
  else for (let k = 0; k < n; k++) out[k] = f(x[mapA[k]], y[mapB[k]]);
  const result = new Tensor(out, shape);
  record(
    result,
    name,
    [A.tensor, B.tensor],
    (g, [needA, needB]) => {
      const side = (needed: boolean, partial: Partial, map: Int32Array | null, count: number): Float32Array | null => {
        if (!needed) return null;
        const local = new Float64Array(n);
        for (let k = 0; k < n; k++) {
          local[k] = partial(g[k], x[mapA ? mapA[k] : k], y[mapB ? mapB[k] : k], out[k]);
        }
        return sumToShapeOnHost(local, map, count);
      };
      return [side(needA, da, mapA, x.length), side(needB, db, mapB, y.length)];
    },
    saves,
  );
  return result;
}

/** Sums `grad` (shaped like the broadcast output) into the shape the map reads from (null map: same shape). */
function sumToShapeOnHost(grad: Float64Array | Float32Array, map: Int32Array | null, count: number): Float32Array {
  if (map === null) return Float32Array.from(grad);
  const acc = new Float64Array(count);
  for (let k = 0; k < map.length; k++) acc[map[k]] += grad[k];
  return Float32Array.from(acc);
}

/** The device branch of add/sub (alpha signed by the caller), mul and div: names and gradients as on the host. */
function binaryOnDevice(k: TensorKernels, kind: BinaryKind, name: string, A: Side, B: Side, shape: number[], alpha: number): F32 {
  // a number operand is a 1-element buffer
  const aBuf = A.tensor ? (A.tensor.storage() as Buf) : filled(k, 1, A.scalar);
  const bBuf = B.tensor ? (B.tensor.storage() as Buf) : filled(k, 1, B.scalar);
  const sa = broadcastStrides(A.shape, shape);
  const sb = broadcastStrides(B.shape, shape);
  const n = numel(shape);
  const out = alloc(k, `${opOf(name)} result`, shape);
  binaryInto(k, BINARY[kind], out, aBuf, sa, bBuf, sb, shape, kind === 'add' ? alpha : 1);
  const result = wrap(out, shape);
  const full = contiguous(shape);
  const scalars = [A.tensor ? null : aBuf, B.tensor ? null : bBuf];
  recordOn(k, result, name, [A.tensor, B.tensor], (g, [needA, needB]) => {
    const fresh = () => alloc(k, `${opOf(name)} gradient`, shape);
    let ga: Buf | null = null;
    let gb: Buf | null = null;
    if (kind === 'add') {
      if (needA) ga = copyOf(k, g, n);
      if (needB) gb = alpha === 1 ? copyOf(k, g, n) : scaledCopy(k, g, n, alpha);
    } else if (kind === 'mul') {
      if (needA) binaryInto(k, BINARY.mul, (ga = fresh()), g, full, bBuf, sb, shape, 1);
      if (needB) binaryInto(k, BINARY.mul, (gb = fresh()), g, full, aBuf, sa, shape, 1);
    } else {
      if (needA) binaryInto(k, BINARY.div, (ga = fresh()), g, full, bBuf, sb, shape, 1);
      if (needB) {
        // -g z / y
        const gz = fresh();
        binaryInto(k, BINARY.mul, gz, g, full, out, full, shape, 1);
        binaryInto(k, BINARY.div, (gb = fresh()), gz, full, bBuf, sb, shape, -1);
        k.free(gz);
      }
    }
    return [ga && sumToShape(k, ga, shape, A.shape), gb && sumToShape(k, gb, shape, B.shape)];
  }, kind !== 'add', kind === 'add' ? [] : scalars);
  // add's backward reads neither operand
  if (kind === 'add') scalars.forEach((s) => s && k.free(s));
  return result;
}

/** `input + alpha * other` with broadcasting (either may be a number). */
export function add(input: Operand, other: Operand, alpha = 1): F32 {
  checkNumber('alpha', alpha);
  return binary('add', 'AddBackward0', input, other, (x, y) => x + alpha * y, (g) => g, (g) => alpha * g, false, { kind: 'add', alpha });
}

/** `input - alpha * other` with broadcasting (either may be a number). */
export function sub(input: Operand, other: Operand, alpha = 1): F32 {
  checkNumber('alpha', alpha);
  return binary('sub', 'SubBackward0', input, other, (x, y) => x - alpha * y, (g) => g, (g) => -alpha * g, false, { kind: 'add', alpha: -alpha });
}

/** `input * other` element-wise with broadcasting (either may be a number). */
export function mul(input: Operand, other: Operand): F32 {
  return binary('mul', 'MulBackward0', input, other, (x, y) => x * y, (g, _x, y) => g * y, (g, x) => g * x, true, { kind: 'mul', alpha: 1 });
}

/** `input / other` element-wise with broadcasting (true division; either may be a number). */
export function div(input: Operand, other: Operand): F32 {
  return binary('div', 'DivBackward0', input, other, (x, y) => x / y, (g, _x, y) => g / y, (g, _x, y, z) => (-g * z) / y, true, { kind: 'div', alpha: 1 });
}

// ---------------------------------------------------------------------------------------------------------
// Element-wise functions

type UnaryName = keyof typeof UNARY;

/** y = f(x); dL/dx = df(g, x, y). Saves x and y (references) for backward. */
function unary(op: UnaryName, name: string, input: unknown, f: (x: number) => number, df: (g: number, x: number, y: number) => number, saves = true): F32 {
  const x = checkFloat(op, 'input', input);
  const k = deviceOf([['input', x]]);
  if (k) return unaryOnDevice(k, op, name, x);
  const xs = x.data;
  const out = new Float32Array(xs.length);
  for (let k = 0; k < xs.length; k++) out[k] = f(xs[k]);
  const result = new Tensor(out, x.shape);
  record(
    result,
    name,
    [x],
    (g) => {
      const gx = new Float32Array(xs.length);
      for (let k = 0; k < xs.length; k++) gx[k] = df(g[k], xs[k], out[k]);
      return [gx];
    },
    saves,
  );
  return result;
}

function unaryOnDevice(k: TensorKernels, op: UnaryName, name: string, x: F32): F32 {
  const code: UnaryCode = UNARY[op];
  const xs = x.storage() as Buf;
  const out = alloc(k, `${op} result`, x.shape);
  if (x.numel > 0) k.unary(code, out, xs);
  const result = wrap(out, x.shape);
  recordOn(k, result, name, [x], (g) => {
    const gx = alloc(k, `${op} gradient`, x.shape);
    // the kernel's backward reads x (log) or y (the others but neg)
    if (x.numel > 0) k.unaryBackward(code, gx, g, op === 'log' ? xs : null, op === 'log' || op === 'neg' ? null : out);
    return [gx];
  }, op !== 'neg');
  return result;
}

export function neg(input: F32): F32 {
  return unary('neg', 'NegBackward0', input, (x) => -x, (g) => -g, false);
}

export function tanh(input: F32): F32 {
  return unary('tanh', 'TanhBackward0', input, Math.tanh, (g, _x, y) => g * (1 - y * y));
}

export function sigmoid(input: F32): F32 {
  return unary('sigmoid', 'SigmoidBackward0', input, (x) => 1 / (1 + Math.exp(-x)), (g, _x, y) => g * y * (1 - y));
}

export function relu(input: F32): F32 {
  // NaN stays NaN, like PyTorch's clamp_min
  return unary('relu', 'ReluBackward0', input, (x) => (x > 0 ? x : x === x ? 0 : x), (g, _x, y) => (y > 0 ? g : 0));
}

export function exp(input: F32): F32 {
  return unary('exp', 'ExpBackward0', input, Math.exp, (g, _x, y) => g * y);
}

/** Natural logarithm (NaN below 0, -Infinity at 0, like PyTorch). */
export function log(input: F32): F32 {
  return unary('log', 'LogBackward0', input, Math.log, (g, x) => g / x);
}
