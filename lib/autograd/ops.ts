// Differentiable tensor operations with PyTorch semantics (float32): broadcasting arithmetic, matmul,
// reductions, element-wise functions, softmax, and shape operations. Each returns a new tensor (reshape/view
// share memory) and, while grad mode is on and an input needs a gradient, records a GradNode whose backward
// maps gradients of the output to gradients of the inputs. CPU tensors are computed here on the host; CUDA
// tensors, after the same argument checks, by ./device-ops on their device (forward and backward).
//
// NOTE: lib/tensor.ts may import this module (Tensor.reshape delegates to `reshape`), so nothing here may use
// Tensor at module load time, only inside functions (the import cycle is then harmless).
import { describe, shapeText, sameShape } from '../checks';
import { DType, DataFor, Tensor } from '../tensor';
import { checkAllocation, checkTensorAllocation } from '../limits';
import { recordNode } from './node';
import { TensorKernels, kernelsFor } from './device-kernels';
import * as dev from './device-ops';
import * as devShape from './device-shape-ops';
import { contiguous } from './device-support';

type F32 = Tensor<'float32'>;
type AnyData = Float32Array | BigInt64Array;

// ---------------------------------------------------------------------------------------------------------
// Argument checks

function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A usable tensor (float32 unless `allowInt64` on the CPU), or an error naming the argument and the operation. */
function checkInput(op: string, name: string, value: unknown, allowInt64 = false): Tensor<DType> {
  if (!(value instanceof Tensor)) throw new TypeError(`Expected a Tensor for ${name} of ${op} but received ${describe(value)}`);
  if (value.disposed) throw new Error(`Tensor has been disposed; its data can no longer be used (${name} of ${op})`);
  if (value.device !== 'cpu' && value.dtype !== 'float32') {
    throw new TypeError(`Expected a float32 Tensor for ${name} of ${op} but received dtype ${value.dtype} on ${value.device} (tensor ops on CUDA compute in float32: call .float() first)`);
  }
  if (!allowInt64 && value.dtype !== 'float32') {
    throw new TypeError(`Expected a float32 Tensor for ${name} of ${op} but received dtype ${value.dtype} (${op} is defined for floating point tensors only)`);
  }
  return value as Tensor<DType>;
}

function checkFloat(op: string, name: string, value: unknown): F32 {
  return checkInput(op, name, value) as F32;
}

/** The device kernels for float32 tensors off the host (null: compute here), after the same-device check. */
function deviceOf(named: readonly (readonly [string, Tensor<DType> | null])[]): TensorKernels | null {
  const k = kernelsFor(named as readonly (readonly [string, Tensor | null])[]);
  // int64 tensors only live on the CPU, where the host code handles them
  return k && named.every(([, t]) => !t || t.dtype === 'float32') ? k : null;
}

function checkInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`Expected integer for ${name} but received ${describe(value)}`);
  return value;
}

function checkBool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`Expected boolean for ${name} but received ${describe(value)}`);
  return value;
}

function checkNumber(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`Expected number for ${name} but received ${describe(value)}`);
  return value;
}

/**
 * PyTorch's maybe_wrap_dim: `dim` in [-ndim, ndim - 1], negative counting from the end. A 0-d tensor accepts 0
 * and -1 (as if it had one dimension) where `scalarOk`, as PyTorch's reductions and softmax do.
 */
function wrapDim(dim: unknown, ndim: number, name = 'dim', scalarOk = true): number {
  const d = checkInt(name, dim);
  let n = ndim;
  if (n === 0) {
    if (!scalarOk) throw new RangeError(`Dimension specified as ${d} but tensor has no dimensions`);
    n = 1;
  }
  if (d < -n || d > n - 1) throw new RangeError(`Dimension out of range (expected to be in range of [${-n}, ${n - 1}], but got ${d})`);
  return d < 0 ? d + n : d;
}

// ---------------------------------------------------------------------------------------------------------
// Index maps and graph recording


/** For each element (row-major) of a tensor of `shape`, the flat source index `sum(index[i] * strides[i])`. */
function stridedMap(shape: readonly number[], strides: readonly number[]): Int32Array {
  const total = numelOf(shape);
  const map = new Int32Array(total);
  const n = shape.length;
  const counter = new Array<number>(n).fill(0);
  let pos = 0;
  for (let k = 0; k < total; k++) {
    map[k] = pos;
    for (let d = n - 1; d >= 0; d--) {
      counter[d]++;
      pos += strides[d];
      if (counter[d] < shape[d]) break;
      pos -= strides[d] * shape[d];
      counter[d] = 0;
    }
  }
  return map;
}

/** For each element of `out`, the flat index of the element of `shape` (broadcast to `out`) it reads; null when the shapes are equal. */
function broadcastMap(shape: readonly number[], out: readonly number[]): Int32Array | null {
  if (sameShape(shape, out)) return null;
  const offset = out.length - shape.length;
  const own = contiguous(shape);
  const strides = out.map((_, i) => {
    const j = i - offset;
    return j >= 0 && shape[j] !== 1 ? own[j] : 0;
  });
  return stridedMap(out, strides);
}

/** numpy/PyTorch broadcasting of two shapes. */
function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    const offset = n - 1 - i;
    const sa = a.length - 1 - offset >= 0 ? a[a.length - 1 - offset] : 1;
    const sb = b.length - 1 - offset >= 0 ? b[b.length - 1 - offset] : 1;
    if (sa === sb || sb === 1) out[i] = sa;
    else if (sa === 1) out[i] = sb;
    else throw new RangeError(`The size of tensor a (${sa}) must match the size of tensor b (${sb}) at non-singleton dimension ${i}`);
  }
  return out;
}

/** Sums `grad` (shaped like the broadcast output) into the shape the map reads from (null map: same shape). */
function sumToShape(grad: Float64Array | Float32Array, map: Int32Array | null, numel: number): Float32Array {
  if (map === null) return Float32Array.from(grad);
  const acc = new Float64Array(numel);
  for (let k = 0; k < map.length; k++) acc[map[k]] += grad[k];
  return Float32Array.from(acc);
}

/**
 * Makes `out` the output of a new node when grad mode is on and one of `inputs` needs a gradient.
 * `backward(g, needs)` returns a gradient (or null) per input; `saves` marks nodes that hold saved values,
 * which `release` frees (a second backward through them then throws, as in PyTorch).
 */
function record(
  out: Tensor<DType>,
  name: string,
  inputs: readonly unknown[],
  backward: (g: Float32Array, needs: boolean[]) => (Float32Array | null)[],
  saves = false,
): boolean {
  return recordNode(out as F32, name, inputs, backward, saves);
}

function allocate<D extends DType>(dtype: D, n: number): DataFor<D> {
  return (dtype === 'int64' ? new BigInt64Array(n) : new Float32Array(n)) as DataFor<D>;
}

// ---------------------------------------------------------------------------------------------------------
// Broadcasting arithmetic

export type Operand = Tensor<'float32'> | number;

interface Side {
  tensor: F32 | null;
  data: Float32Array;
  shape: readonly number[];
}

function operand(op: string, name: string, value: unknown): Side {
  if (typeof value === 'number') return { tensor: null, data: Float32Array.of(value), shape: [] };
  const t = checkFloat(op, name, value);
  return { tensor: t, data: t.data, shape: t.shape };
}

type Partial = (g: number, x: number, y: number, z: number) => number;

/**
 * z = f(x, y) element-wise with broadcasting; da/db give dL/dx and dL/dy of one element from dL/dz. Values of x,
 * y and z are kept for backward only when `saves` (the partials read them).
 */
function binary(op: string, name: string, a: unknown, b: unknown, f: (x: number, y: number) => number, da: Partial, db: Partial, saves: boolean,
  device: { kind: 'add' | 'mul' | 'div'; alpha: number }): F32 {
  if (typeof a === 'number' && typeof b === 'number') {
    throw new TypeError(`Expected a Tensor for input or other of ${op} but received two numbers`);
  }
  const A = operand(op, 'input', a);
  const B = operand(op, 'other', b);
  const shape = broadcastShapes(A.shape, B.shape);
  const k = deviceOf([['input', A.tensor], ['other', B.tensor]]);
  if (k) return dev.binaryOp(k, device.kind, name, dev.operandOf(k, (A.tensor ?? a) as F32 | number), dev.operandOf(k, (B.tensor ?? b) as F32 | number), shape, device.alpha);
  const n = numelOf(shape);
  // broadcasting can make the result far larger than either operand: refused past the memory limit before the
  // result and its two index maps (Int32Array, one element per result element) are allocated
  const maps = (sameShape(A.shape, shape) ? 0 : 1) + (sameShape(B.shape, shape) ? 0 : 1);
  checkAllocation(`${op} of shape ${shapeText(shape)}`, [['result', 4 * n], ['broadcast index maps', 4 * n * maps]]);
  const mapA = broadcastMap(A.shape, shape);
  const mapB = broadcastMap(B.shape, shape);
  const out = new Float32Array(n);
  const x = A.data;
  const y = B.data;
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
      const side = (needed: boolean, partial: Partial, map: Int32Array | null, numel: number): Float32Array | null => {
        if (!needed) return null;
        const local = new Float64Array(n);
        for (let k = 0; k < n; k++) {
          local[k] = partial(g[k], x[mapA ? mapA[k] : k], y[mapB ? mapB[k] : k], out[k]);
        }
        return sumToShape(local, map, numel);
      };
      return [side(needA, da, mapA, x.length), side(needB, db, mapB, y.length)];
    },
    saves,
  );
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

/** y = f(x); dL/dx = df(g, x, y). Saves x and y (references) for backward. */
function unary(op: dev.UnaryName, name: string, input: unknown, f: (x: number) => number, df: (g: number, x: number, y: number) => number, saves = true): F32 {
  const x = checkFloat(op, 'input', input);
  const k = deviceOf([['input', x]]);
  if (k) return dev.unaryOp(k, op, name, x);
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

// ---------------------------------------------------------------------------------------------------------
// Reductions

/** The reduced dimensions (a flag per dimension) and the shape with them kept as 1. */
function reduction(op: string, x: Tensor<DType>, dim: unknown, keepdim: unknown): { keptShape: number[]; outShape: number[]; count: number } {
  checkBool('keepdim', keepdim);
  const ndim = x.ndim;
  const reduced = new Array<boolean>(ndim).fill(false);
  if (dim === undefined || dim === null || (Array.isArray(dim) && dim.length === 0)) reduced.fill(true);
  else {
    const list: unknown[] = Array.isArray(dim) ? dim : [dim];
    if (!Array.isArray(dim) && typeof dim !== 'number') {
      throw new TypeError(`Expected an integer or an array of integers for dim of ${op} but received ${describe(dim)}`);
    }
    const seen = new Set<number>();
    list.forEach((d, i) => {
      const w = wrapDim(d, ndim, Array.isArray(dim) ? `dim[${i}]` : 'dim');
      if (seen.has(w)) throw new RangeError(`dim ${w} appears multiple times in the list of dims`);
      seen.add(w);
      if (ndim > 0) reduced[w] = true;
    });
  }
  const keptShape = x.shape.map((s, i) => (reduced[i] ? 1 : s));
  const outShape = keepdim ? keptShape : x.shape.filter((_, i) => !reduced[i]);
  const count = numelOf(x.shape.filter((_, i) => reduced[i]));
  return { keptShape, outShape, count };
}

function reduce(op: string, name: string, input: unknown, dim: unknown, keepdim: unknown, isMean: boolean): F32 {
  const x = checkFloat(op, 'input', input);
  const { keptShape, outShape, count } = reduction(op, x, dim, keepdim);
  const k = deviceOf([['input', x]]);
  if (k) return dev.reduceOp(k, name, x, keptShape.map((s) => s === 1), outShape, isMean ? 1 / count : 1);
  const map = broadcastMap(keptShape, x.shape);
  const xs = x.data;
  const acc = new Float64Array(numelOf(outShape));
  if (map === null) acc.set(xs);
  else for (let k = 0; k < xs.length; k++) acc[map[k]] += xs[k];
  if (isMean) for (let i = 0; i < acc.length; i++) acc[i] /= count;
  const result = new Tensor(Float32Array.from(acc), outShape);
  record(result, name, [x], (g) => {
    const gx = new Float32Array(xs.length);
    const scale = isMean ? 1 / count : 1;
    for (let k = 0; k < gx.length; k++) gx[k] = g[map ? map[k] : k] * scale;
    return [gx];
  });
  return result;
}

/** Sum over `dim` (an integer or an array; all elements when omitted, giving a 0-d tensor). */
export function sum(input: F32, dim?: number | readonly number[] | null, keepdim = false): F32 {
  return reduce('sum', 'SumBackward1', input, dim, keepdim, false);
}

/** Mean over `dim` (an integer or an array; all elements when omitted, giving a 0-d tensor). */
export function mean(input: F32, dim?: number | readonly number[] | null, keepdim = false): F32 {
  return reduce('mean', 'MeanBackward1', input, dim, keepdim, true);
}

// ---------------------------------------------------------------------------------------------------------
// Softmax

/** [outer, size, inner] around dimension `d` of `shape` (a 0-d shape is [1, 1, 1]). */
function around(shape: readonly number[], d: number): [number, number, number] {
  if (shape.length === 0) return [1, 1, 1];
  return [numelOf(shape.slice(0, d)), shape[d], numelOf(shape.slice(d + 1))];
}

function softmaxOp(op: string, name: string, input: unknown, dim: unknown, logarithm: boolean): F32 {
  const x = checkFloat(op, 'input', input);
  if (dim === undefined) throw new TypeError(`Expected integer for dim of ${op} but received undefined (softmax needs the dimension to normalize over)`);
  const d = wrapDim(dim, x.ndim);
  const [outer, size, inner] = around(x.shape, d);
  const k = deviceOf([['input', x]]);
  if (k) return dev.softmaxOp(k, name, x, outer, size, inner, logarithm);
  const xs = x.data;
  const out = new Float32Array(xs.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * size * inner + i;
      let max = -Infinity;
      for (let s = 0; s < size; s++) max = Math.max(max, xs[base + s * inner]);
      if (max === -Infinity) max = 0; // all -inf: exp gives 0s (NaN after normalizing, like PyTorch)
      let total = 0;
      for (let s = 0; s < size; s++) total += Math.exp(xs[base + s * inner] - max);
      if (logarithm) {
        const shift = max + Math.log(total);
        for (let s = 0; s < size; s++) out[base + s * inner] = xs[base + s * inner] - shift;
      } else {
        for (let s = 0; s < size; s++) out[base + s * inner] = Math.exp(xs[base + s * inner] - max) / total;
      }
    }
  }
  const result = new Tensor(out, x.shape);
  record(
    result,
    name,
    [x],
    (g) => {
      const gx = new Float32Array(xs.length);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * size * inner + i;
          let dot = 0;
          if (logarithm) {
            // d logsoftmax: g - softmax * sum(g)
            for (let s = 0; s < size; s++) dot += g[base + s * inner];
            for (let s = 0; s < size; s++) gx[base + s * inner] = g[base + s * inner] - Math.exp(out[base + s * inner]) * dot;
          } else {
            // d softmax: y * (g - sum(g * y))
            for (let s = 0; s < size; s++) dot += g[base + s * inner] * out[base + s * inner];
            for (let s = 0; s < size; s++) gx[base + s * inner] = out[base + s * inner] * (g[base + s * inner] - dot);
          }
        }
      }
      return [gx];
    },
    true,
  );
  return result;
}

/** exp(x) / sum(exp(x)) along `dim`, computed with the maximum subtracted (numerically stable). */
export function softmax(input: F32, dim: number): F32 {
  return softmaxOp('softmax', 'SoftmaxBackward0', input, dim, false);
}

/** x - log(sum(exp(x))) along `dim`, computed with the maximum subtracted (numerically stable). */
export function logSoftmax(input: F32, dim: number): F32 {
  return softmaxOp('logSoftmax', 'LogSoftmaxBackward0', input, dim, true);
}

// ---------------------------------------------------------------------------------------------------------
// Matrix products

/**
 * Matrix product like torch.matmul: 1-D x 1-D (dot, 0-d result), 2-D x 1-D, 1-D x 2-D, 2-D x 2-D, and batched
 * products of N-D tensors (3-D x 2-D, 3-D x 3-D, ...) with the batch dimensions broadcast.
 */
export function matmul(input: F32, other: F32): F32 {
  const a = checkFloat('matmul', 'input', input);
  const b = checkFloat('matmul', 'other', other);
  const kernels = deviceOf([['input', a], ['other', b]]);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new RangeError(`both arguments to matmul need to be at least 1D, but they are ${a.ndim}D and ${b.ndim}D`);
  }
  const aShape = a.ndim === 1 ? [1, a.shape[0]] : a.shape;
  const bShape = b.ndim === 1 ? [b.shape[0], 1] : b.shape;
  const m = aShape[aShape.length - 2];
  const k = aShape[aShape.length - 1];
  const k2 = bShape[bShape.length - 2];
  const n = bShape[bShape.length - 1];
  const batchA = aShape.slice(0, -2);
  const batchB = bShape.slice(0, -2);
  if (k !== k2) {
    // PyTorch's messages for the kernel each case dispatches to (batches of a folded into rows when b is 1-D/2-D)
    const rows = numelOf(batchA) * m;
    if (a.ndim === 1 && b.ndim === 1) {
      throw new RangeError(`inconsistent tensor size, expected tensor [${k}] and src [${k2}] to have the same number of elements, but got ${k} and ${k2} elements respectively`);
    }
    if (b.ndim === 1) throw new RangeError(`size mismatch, got input (${rows}), mat (${rows}x${k}), vec (${k2})`);
    if (b.ndim === 2) throw new RangeError(`mat1 and mat2 shapes cannot be multiplied (${rows}x${k} and ${k2}x${n})`);
    const batches = numelOf(broadcastShapes(batchA, batchB));
    throw new RangeError(`Expected size for first two dimensions of batch2 tensor to be: [${batches}, ${k}] but got: [${batches}, ${k2}].`);
  }
  const batch = broadcastShapes(batchA, batchB);
  const P = numelOf(batch);
  const outShape = [...batch];
  if (a.ndim > 1) outShape.push(m);
  if (b.ndim > 1) outShape.push(n);
  const name = a.ndim === 1 && b.ndim === 1 ? 'DotBackward0' : a.ndim <= 2 && b.ndim <= 2 ? (b.ndim === 1 ? 'MvBackward0' : 'MmBackward0') : 'BmmBackward0';
  if (kernels) return dev.matmulOp(kernels, name, a, b, { aShape, bShape, batch, m, k, n, outShape });
  checkTensorAllocation(`matmul result of shape ${shapeText(outShape)}`, P * m * n);
  const mapA = broadcastMap(batchA, batch);
  const mapB = broadcastMap(batchB, batch);
  const A = a.data;
  const B = b.data;
  const out = new Float32Array(P * m * n);
  const acc = new Float64Array(n);
  for (let p = 0; p < P; p++) {
    const aOff = (mapA ? mapA[p] : p) * m * k;
    const bOff = (mapB ? mapB[p] : p) * k * n;
    const cOff = p * m * n;
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      for (let q = 0; q < k; q++) {
        const v = A[aOff + i * k + q];
        const row = bOff + q * n;
        for (let j = 0; j < n; j++) acc[j] += v * B[row + j];
      }
      for (let j = 0; j < n; j++) out[cOff + i * n + j] = acc[j];
    }
  }
  const result = new Tensor(out, outShape);
  record(
    result,
    name,
    [a, b],
    (g, [needA, needB]) => {
      const gA = needA ? new Float64Array(A.length) : null;
      const gB = needB ? new Float64Array(B.length) : null;
      for (let p = 0; p < P; p++) {
        const aOff = (mapA ? mapA[p] : p) * m * k;
        const bOff = (mapB ? mapB[p] : p) * k * n;
        const cOff = p * m * n;
        for (let i = 0; i < m; i++) {
          const gRow = cOff + i * n;
          for (let q = 0; q < k; q++) {
            const row = bOff + q * n;
            if (gA) {
              // dA = g B^T
              let s = 0;
              for (let j = 0; j < n; j++) s += g[gRow + j] * B[row + j];
              gA[aOff + i * k + q] += s;
            }
            if (gB) {
              // dB = A^T g
              const v = A[aOff + i * k + q];
              for (let j = 0; j < n; j++) gB[row + j] += v * g[gRow + j];
            }
          }
        }
      }
      return [gA && Float32Array.from(gA), gB && Float32Array.from(gB)];
    },
    true,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Shape operations (float32 or int64; int64 results never need gradients)

/** The shape `dims` (one entry may be -1) for `numel` elements; the same checks and messages as Tensor.reshape. */
function inferShape(dims: readonly unknown[], numel: number): number[] {
  let unknown = -1;
  let known = 1;
  dims.forEach((d, i) => {
    if (d === -1 && unknown < 0) unknown = i;
    else {
      if (typeof d !== 'number' || !Number.isInteger(d)) throw new TypeError(`Expected integer for shape[${i}] but received ${describe(d)}`);
      if (d < 0) throw new RangeError(`Expected integer >= 0 for shape[${i}] but received ${d}`);
      known *= d;
    }
  });
  const shape = dims.slice() as number[];
  if (unknown >= 0) {
    if (known === 0 || numel % known !== 0) throw new RangeError(`shape [${dims.join(', ')}] is invalid for input of size ${numel}`);
    shape[unknown] = numel / known;
  }
  if (numelOf(shape) !== numel) throw new RangeError(`shape [${dims.join(', ')}] is invalid for input of size ${numel}`);
  return shape;
}

/**
 * A tensor of another shape over the same memory (one dimension may be -1), on any device and of any dtype;
 * recorded for autograd (the gradient is reshaped back).
 */
export function reshape<D extends DType>(input: Tensor<D>, shape: readonly number[]): Tensor<D> {
  if (!(input instanceof Tensor)) throw new TypeError(`Expected a Tensor for input of reshape but received ${describe(input)}`);
  if (!Array.isArray(shape)) throw new TypeError(`Expected an array of integers for shape of reshape but received ${describe(shape)}`);
  const storage = input.storage();
  const result = new Tensor<D>(storage, inferShape(shape, input.numel), input.dtype);
  const k = input.dtype === 'float32' && !input.disposed ? deviceOf([['input', input]]) : null;
  if (k) devShape.recordView(k, result, input);
  else record(result, 'ViewBackward0', [input], (g) => [Float32Array.from(g)]);
  return result;
}

/** Same as `reshape` (every tensor is contiguous, so every reshape is a view). */
export function view<D extends DType>(input: Tensor<D>, shape: readonly number[]): Tensor<D> {
  return reshape(input, shape);
}

function permuteCore<D extends DType>(op: string, name: string, x: Tensor<D>, perm: readonly number[]): Tensor<D> {
  const own = contiguous(x.shape);
  const k = deviceOf([['input', x]]);
  if (k) return devShape.permuteOp(k, name, x as Tensor<DType> as F32, perm) as Tensor<DType> as Tensor<D>;
  const outShape = perm.map((p) => x.shape[p]);
  const map = stridedMap(outShape, perm.map((p) => own[p]));
  const xs = x.data as AnyData;
  const out = allocate(x.dtype, xs.length) as AnyData;
  for (let k = 0; k < map.length; k++) out[k] = xs[map[k]];
  const result = new Tensor<D>(out as DataFor<D>, outShape, x.dtype);
  record(result, name, [x], (g) => {
    const gx = new Float32Array(map.length);
    for (let k = 0; k < map.length; k++) gx[map[k]] = g[k];
    return [gx];
  });
  return result;
}

/** The tensor with dimensions `dim0` and `dim1` swapped (a copy). */
export function transpose<D extends DType>(input: Tensor<D>, dim0: number, dim1: number): Tensor<D> {
  const x = checkInput('transpose', 'input', input, true) as Tensor<D>;
  const d0 = wrapDim(dim0, x.ndim, 'dim0');
  const d1 = wrapDim(dim1, x.ndim, 'dim1');
  const perm = x.shape.map((_, i) => (i === d0 ? d1 : i === d1 ? d0 : i));
  return permuteCore('transpose', 'TransposeBackward0', x, perm);
}

/** The tensor with its dimensions reordered: dimension i of the result is dimension dims[i] of the input (a copy). */
export function permute<D extends DType>(input: Tensor<D>, dims: readonly number[]): Tensor<D> {
  const x = checkInput('permute', 'input', input, true) as Tensor<D>;
  if (!Array.isArray(dims)) throw new TypeError(`Expected an array of integers for dims of permute but received ${describe(dims)}`);
  if (dims.length !== x.ndim) {
    throw new RangeError(`permute(): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = ${x.ndim} is not equal to len(dims) = ${dims.length}`);
  }
  const perm = dims.map((d, i) => wrapDim(d, x.ndim, `dims[${i}]`));
  if (new Set(perm).size !== perm.length) throw new RangeError('permute(): duplicate dims are not allowed.');
  return permuteCore('permute', 'PermuteBackward0', x, perm);
}

/** Copies `length` entries from `start` along the middle axis of an [outer, size, inner] layout. */
function sliceCore<D extends DType>(name: string, x: Tensor<D>, d: number, start: number, length: number, outShape: number[]): Tensor<D> {
  const [outer, size, inner] = around(x.shape, d);
  const k = deviceOf([['input', x]]);
  if (k) return devShape.sliceOp(k, name, x as Tensor<DType> as F32, outer, size, inner, start, length, outShape) as Tensor<DType> as Tensor<D>;
  const xs = x.data as AnyData;
  const chunk = length * inner;
  const out = allocate(x.dtype, outer * chunk) as AnyData;
  for (let o = 0; o < outer; o++) {
    const from = (o * size + start) * inner;
    (out as Float32Array).set((xs as Float32Array).subarray(from, from + chunk), o * chunk);
  }
  const result = new Tensor<D>(out as DataFor<D>, outShape, x.dtype);
  record(result, name, [x], (g) => {
    const gx = new Float32Array(xs.length);
    for (let o = 0; o < outer; o++) gx.set(g.subarray(o * chunk, (o + 1) * chunk), (o * size + start) * inner);
    return [gx];
  });
  return result;
}

/** The slice at `index` along `dim` (negative index counts from the end), without that dimension (a copy). */
export function select<D extends DType>(input: Tensor<D>, dim: number, index: number): Tensor<D> {
  const x = checkInput('select', 'input', input, true) as Tensor<D>;
  if (x.ndim === 0) throw new RangeError('select() cannot be applied to a 0-dim tensor.');
  const d = wrapDim(dim, x.ndim);
  const i = checkInt('index', index);
  const size = x.shape[d];
  if (i < -size || i >= size) throw new RangeError(`select(): index ${i} out of range for tensor of size ${shapeText(x.shape)} at dimension ${d}`);
  return sliceCore('SelectBackward0', x, d, i < 0 ? i + size : i, 1, x.shape.filter((_, j) => j !== d));
}

/** `length` entries of `dim` from `start` (negative start counts from the end) (a copy). */
export function narrow<D extends DType>(input: Tensor<D>, dim: number, start: number, length: number): Tensor<D> {
  const x = checkInput('narrow', 'input', input, true) as Tensor<D>;
  if (x.ndim === 0) throw new RangeError('narrow() cannot be applied to a 0-dim tensor.');
  const d = wrapDim(dim, x.ndim);
  let s = checkInt('start', start);
  const len = checkInt('length', length);
  if (len < 0) throw new RangeError('narrow(): length must be non-negative.');
  const size = x.shape[d];
  if (s < -size || s > size) throw new RangeError(`start out of range (expected to be in range of [${-size}, ${size}], but got ${s})`);
  if (s < 0) s += size;
  if (s > size - len) throw new RangeError(`start (${s}) + length (${len}) exceeds dimension size (${size}).`);
  return sliceCore('NarrowBackward0', x, d, s, len, x.shape.map((v, j) => (j === d ? len : v)));
}

function checkList(op: string, tensors: unknown): Tensor<DType>[] {
  if (!Array.isArray(tensors)) throw new TypeError(`Expected an array of Tensors for tensors of ${op} but received ${describe(tensors)}`);
  if (tensors.length === 0) {
    throw new RangeError(op === 'cat' ? 'torch.cat(): expected a non-empty list of Tensors' : 'stack expects a non-empty TensorList');
  }
  const list = tensors.map((t, i) => checkInput(op, `tensors[${i}]`, t, true));
  list.forEach((t, i) => {
    if (t.dtype !== list[0].dtype) {
      throw new TypeError(`Expected all tensors of ${op} to have the same dtype, but got ${list[0].dtype} for tensors[0] and ${t.dtype} for tensors[${i}]`);
    }
  });
  return list;
}

/** Concatenates along the middle axis of [outer, size_t, inner] layouts (shared by cat and stack). */
function concatCore<D extends DType>(name: string, list: Tensor<D>[], outer: number, sizes: number[], inner: number, outShape: number[]): Tensor<D> {
  const k = deviceOf(list.map((t, i) => [`tensors[${i}]`, t] as const));
  if (k) return devShape.concatOp(k, name, list as Tensor<DType>[] as F32[], outer, sizes, inner, outShape) as Tensor<DType> as Tensor<D>;
  const total = sizes.reduce((x, y) => x + y, 0);
  const out = allocate(list[0].dtype, outer * total * inner) as AnyData;
  const offsets: number[] = [];
  let offset = 0;
  list.forEach((t, j) => {
    offsets.push(offset);
    const src = t.data as Float32Array;
    const chunk = sizes[j] * inner;
    for (let o = 0; o < outer; o++) (out as Float32Array).set(src.subarray(o * chunk, (o + 1) * chunk), (o * total + offset) * inner);
    offset += sizes[j];
  });
  const result = new Tensor<D>(out as DataFor<D>, outShape, list[0].dtype);
  record(result, name, list, (g, needs) =>
    list.map((t, j) => {
      if (!needs[j]) return null;
      const chunk = sizes[j] * inner;
      const gx = new Float32Array(outer * chunk);
      for (let o = 0; o < outer; o++) {
        const from = (o * total + offsets[j]) * inner;
        gx.set(g.subarray(from, from + chunk), o * chunk);
      }
      return gx;
    }),
  );
  return result;
}

/** Concatenates tensors of the same shape except in `dim` (a copy), like torch.cat. */
export function cat<D extends DType>(tensors: readonly Tensor<D>[], dim = 0): Tensor<D> {
  const list = checkList('cat', tensors) as Tensor<D>[];
  list.forEach((t, i) => {
    if (t.ndim === 0) throw new RangeError(`zero-dimensional tensor (at position ${i}) cannot be concatenated`);
  });
  const first = list[0];
  const d = wrapDim(dim, first.ndim);
  list.forEach((t, i) => {
    if (t.ndim !== first.ndim) throw new RangeError(`Tensors must have same number of dimensions: got ${first.ndim} and ${t.ndim}`);
    t.shape.forEach((s, j) => {
      if (j !== d && s !== first.shape[j]) {
        throw new RangeError(`Sizes of tensors must match except in dimension ${d}. Expected size ${first.shape[j]} but got size ${s} for tensor number ${i} in the list.`);
      }
    });
  });
  const [outer, , inner] = around(first.shape, d);
  const sizes = list.map((t) => t.shape[d]);
  const outShape = first.shape.map((s, j) => (j === d ? sizes.reduce((x, y) => x + y, 0) : s));
  return concatCore('CatBackward0', list, outer, sizes, inner, outShape);
}

/** Stacks tensors of one shape along a new dimension `dim` (a copy), like torch.stack. */
export function stack<D extends DType>(tensors: readonly Tensor<D>[], dim = 0): Tensor<D> {
  const list = checkList('stack', tensors) as Tensor<D>[];
  const first = list[0];
  list.forEach((t, i) => {
    if (!sameShape(t.shape, first.shape)) {
      throw new RangeError(`stack expects each tensor to be equal size, but got ${shapeText(first.shape)} at entry 0 and ${shapeText(t.shape)} at entry ${i}`);
    }
  });
  const d = wrapDim(dim, first.ndim + 1);
  const outer = numelOf(first.shape.slice(0, d));
  const inner = numelOf(first.shape.slice(d));
  const outShape = [...first.shape.slice(0, d), list.length, ...first.shape.slice(d)];
  return concatCore('StackBackward0', list, outer, list.map(() => 1), inner, outShape);
}

/**
 * The entries of `input` along `dim` at the positions in `index` (a 1-D or 0-d int64 tensor), like
 * torch.index_select: an embedding lookup is `indexSelect(weight, 0, ids)`. Gradients scatter-add back, so
 * repeated indices accumulate.
 */
export function indexSelect<D extends DType>(input: Tensor<D>, dim: number, index: Tensor<'int64'>): Tensor<D> {
  const x = checkInput('indexSelect', 'input', input, true) as Tensor<D>;
  const idx = checkInput('indexSelect', 'index', index, true);
  if (idx.dtype !== 'int64') throw new TypeError(`Expected an int64 Tensor for index of indexSelect but received dtype ${idx.dtype}`);
  if (idx.ndim > 1) throw new RangeError(`index_select(): Index is supposed to be a vector, but index has shape ${shapeText(idx.shape)}`);
  const d = wrapDim(dim, x.ndim);
  if (x.ndim === 0 && idx.numel !== 1) throw new RangeError(`index_select(): Index to scalar can have only 1 value, got ${idx.numel} value(s)`);
  const [outer, size, inner] = around(x.shape, d);
  const raw = idx.data as BigInt64Array;
  const positions = new Int32Array(raw.length);
  raw.forEach((v, j) => {
    if (v < 0n || v >= BigInt(size)) {
      throw new RangeError(`index out of range in self: index[${j}] = ${v} is not in [0, ${size}) for dimension ${d} of indexSelect's input`);
    }
    positions[j] = Number(v);
  });
  const N = positions.length;
  const outShape = x.ndim === 0 ? [] : x.shape.map((s, j) => (j === d ? N : s));
  // the index stays on the CPU (int64 tensors live there) whatever the input's device
  const k = deviceOf([['input', x]]);
  if (k) return devShape.indexSelectOp(k, 'IndexSelectBackward0', x as Tensor<DType> as F32, outer, size, inner, BigInt64Array.from(positions, BigInt), outShape) as Tensor<DType> as Tensor<D>;
  const xs = x.data as AnyData;
  const out = allocate(x.dtype, outer * N * inner) as AnyData;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < N; j++) {
      const from = (o * size + positions[j]) * inner;
      (out as Float32Array).set((xs as Float32Array).subarray(from, from + inner), (o * N + j) * inner);
    }
  }
  const result = new Tensor<D>(out as DataFor<D>, outShape, x.dtype);
  record(result, 'IndexSelectBackward0', [x], (g) => {
    const acc = new Float64Array(xs.length);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < N; j++) {
        const to = (o * size + positions[j]) * inner;
        const from = (o * N + j) * inner;
        for (let i = 0; i < inner; i++) acc[to + i] += g[from + i];
      }
    }
    return [Float32Array.from(acc)];
  });
  return result;
}
