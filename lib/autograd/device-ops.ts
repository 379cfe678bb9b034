// The differentiable ops of ./ops on a device, element-wise, reductions, softmax and matmul: the same results and
// gradients as the host ops (float32, within rounding), composed from the primitives of ./device-kernels, each output
// in new memory on the inputs' device and each recorded node asking for its gradients there, so forward and backward
// stay on the GPU. ./ops checks every argument first and passes shapes it has already validated; temporaries are
// freed as soon as they are used.
import { BINARY, Buf, TensorKernels, UNARY, UnaryCode, filled } from './device-kernels';
import {
  F32, alloc, binaryInto, broadcastStrides, contiguous, copyOf, numel, opOf, recordOn, scaledCopy, stridedCopy, sumDims, sumToShape, wrap,
} from './device-support';

// ---------------------------------------------------------------------------------------------------------
// Element-wise

export interface DeviceOperand {
  tensor: F32 | null;
  /** A number operand is a 1-element buffer. */
  buf: Buf;
  shape: readonly number[];
}

export function operandOf(k: TensorKernels, value: F32 | number): DeviceOperand {
  if (typeof value === 'number') return { tensor: null, buf: filled(k, 1, value), shape: [] };
  return { tensor: value, buf: value.storage() as Buf, shape: value.shape };
}

/** add/sub (alpha signed by the caller), mul, div with broadcasting; names and gradients as the host ops. */
export function binaryOp(k: TensorKernels, kind: 'add' | 'mul' | 'div', name: string, A: DeviceOperand, B: DeviceOperand, shape: number[],
  alpha: number): F32 {
  const sa = broadcastStrides(A.shape, shape);
  const sb = broadcastStrides(B.shape, shape);
  const n = numel(shape);
  const out = alloc(k, `${opOf(name)} result`, shape);
  binaryInto(k, BINARY[kind], out, A.buf, sa, B.buf, sb, shape, kind === 'add' ? alpha : 1);
  const result = wrap(out, shape);
  const full = contiguous(shape);
  const scalars = [A.tensor ? null : A.buf, B.tensor ? null : B.buf];
  recordOn(k, result, name, [A.tensor, B.tensor], (g, [needA, needB]) => {
    const fresh = () => alloc(k, `${opOf(name)} gradient`, shape);
    let ga: Buf | null = null;
    let gb: Buf | null = null;
    if (kind === 'add') {
      if (needA) ga = copyOf(k, g, n);
      if (needB) gb = alpha === 1 ? copyOf(k, g, n) : scaledCopy(k, g, n, alpha);
    } else if (kind === 'mul') {
      if (needA) binaryInto(k, BINARY.mul, (ga = fresh()), g, full, B.buf, sb, shape, 1);
      if (needB) binaryInto(k, BINARY.mul, (gb = fresh()), g, full, A.buf, sa, shape, 1);
    } else {
      if (needA) binaryInto(k, BINARY.div, (ga = fresh()), g, full, B.buf, sb, shape, 1);
      if (needB) {
        // -g z / y
        const gz = fresh();
        binaryInto(k, BINARY.mul, gz, g, full, out, full, shape, 1);
        binaryInto(k, BINARY.div, (gb = fresh()), gz, full, B.buf, sb, shape, -1);
        k.free(gz);
      }
    }
    return [ga && sumToShape(k, ga, shape, A.shape), gb && sumToShape(k, gb, shape, B.shape)];
  }, kind !== 'add', kind === 'add' ? [] : scalars);
  // add's backward reads neither operand
  if (kind === 'add') scalars.forEach((s) => s && k.free(s));
  return result;
}

export type UnaryName = keyof typeof UNARY;

export function unaryOp(k: TensorKernels, op: UnaryName, name: string, x: F32): F32 {
  const code: UnaryCode = UNARY[op];
  const xs = x.storage() as Buf;
  const out = alloc(k, `${op} result`, x.shape);
  if (x.numel > 0) k.unary(code, out, xs);
  const result = wrap(out, x.shape);
  recordOn(k, result, name, [x], (g) => {
    const gx = alloc(k, `${op} gradient`, x.shape);
    if (x.numel > 0) k.unaryBackward(code, gx, g, op === 'log' ? xs : null, op === 'log' || op === 'neg' ? null : out);
    return [gx];
  }, op !== 'neg');
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Reductions and softmax

/** Sum (scale 1) or mean (scale 1/count) over the flagged dims; `outShape` is the result's (keepdim applied). */
export function reduceOp(k: TensorKernels, name: string, x: F32, reduced: readonly boolean[], outShape: number[], scale: number): F32 {
  const out = sumDims(k, x.storage() as Buf, x.shape, reduced, scale);
  const result = wrap(out, outShape);
  const kept = x.shape.map((n, i) => (reduced[i] ? 1 : n));
  recordOn(k, result, name, [x], (g) => {
    const gx = alloc(k, `${opOf(name)} gradient`, x.shape);
    const s = filled(k, 1, scale);
    try {
      binaryInto(k, BINARY.mul, gx, g, broadcastStrides(kept, x.shape), s, x.shape.map(() => 0), x.shape, 1);
    } finally {
      k.free(s);
    }
    return [gx];
  }, false);
  return result;
}

export function softmaxOp(k: TensorKernels, name: string, x: F32, outer: number, size: number, inner: number, log: boolean): F32 {
  const out = alloc(k, `${log ? 'logSoftmax' : 'softmax'} result`, x.shape);
  k.softmax(out, x.storage() as Buf, outer, size, inner, log);
  const result = wrap(out, x.shape);
  recordOn(k, result, name, [x], (g) => {
    const gx = alloc(k, `${opOf(name)} gradient`, x.shape);
    k.softmaxBackward(gx, g, out, outer, size, inner, log);
    return [gx];
  });
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Matrix products

export interface MatmulPlan {
  aShape: readonly number[]; // a with a 1-D operand made [1, k]
  bShape: readonly number[]; // b with a 1-D operand made [k, 1]
  batch: number[];
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

/** A [..., m, k] matrix batch broadcast to `batch` as contiguous memory, or itself (stride m k, or 0 when shared). */
function batched(k: TensorKernels, buf: Buf, shape: readonly number[], batch: readonly number[], rows: number, cols: number): { buf: Buf; stride: number; owned: boolean } {
  const own = shape.slice(0, -2);
  if (numel(own) === 1) return { buf, stride: 0, owned: false };
  if (own.length === batch.length && own.every((d, i) => d === batch[i])) return { buf, stride: rows * cols, owned: false };
  const full = [...batch, rows, cols];
  const out = alloc(k, 'a broadcast matmul operand', full);
  stridedCopy(k, out, 0, contiguous(full), buf, 0, broadcastStrides(shape, full), full);
  return { buf: out, stride: rows * cols, owned: true };
}

export function matmulOp(k: TensorKernels, name: string, a: F32, b: F32, p: MatmulPlan): F32 {
  const { m, k: K, n, batch } = p;
  const A = a.storage() as Buf;
  const B = b.storage() as Buf;
  const out = alloc(k, 'matmul result', p.outShape);
  const bBatched = p.bShape.length > 2;
  // b without batch dims: a's batches fold into the rows of one product
  const rowsA = bBatched ? m : numel(p.aShape.slice(0, -1));
  const P = bBatched ? numel(batch) : 1;
  if (K === 0) k.fill(out, 0);
  else if (!bBatched) k.gemmBatched(false, false, rowsA, n, K, 1, A, K, 0, B, n, 0, 0, out, n, 0, 1);
  else {
    const ea = batched(k, A, p.aShape, batch, m, K);
    const eb = batched(k, B, p.bShape, batch, K, n);
    try {
      k.gemmBatched(false, false, m, n, K, 1, ea.buf, K, ea.stride, eb.buf, n, eb.stride, 0, out, n, m * n, P);
    } finally {
      if (ea.owned) k.free(ea.buf);
      if (eb.owned) k.free(eb.buf);
    }
  }
  const result = wrap(out, p.outShape);
  recordOn(k, result, name, [a, b], (g, [needA, needB]) => {
    let gA: Buf | null = null;
    let gB: Buf | null = null;
    if (!bBatched) {
      if (needA) {
        gA = alloc(k, 'matmul gradient', [rowsA, K]);
        if (n === 0) k.fill(gA, 0);
        else k.gemmBatched(false, true, rowsA, K, n, 1, g, n, 0, B, n, 0, 0, gA, K, 0, 1);
      }
      if (needB) {
        gB = alloc(k, 'matmul gradient', [K, n]);
        if (rowsA === 0) k.fill(gB, 0);
        else k.gemmBatched(true, false, K, n, rowsA, 1, A, K, 0, g, n, 0, 0, gB, n, 0, 1);
      }
      return [gA, gB];
    }
    // per-batch products over the broadcast batch, then summed down to each operand's batch shape
    const ea = needB ? batched(k, A, p.aShape, batch, m, K) : null;
    const eb = needA ? batched(k, B, p.bShape, batch, K, n) : null;
    try {
      if (eb) {
        const full = [...batch, m, K];
        gA = alloc(k, 'matmul gradient', full);
        if (n === 0) k.fill(gA, 0);
        else k.gemmBatched(false, true, m, K, n, 1, g, n, m * n, eb.buf, n, eb.stride, 0, gA, K, m * K, P);
        gA = sumToShape(k, gA, full, p.aShape);
      }
      if (ea) {
        const full = [...batch, K, n];
        gB = alloc(k, 'matmul gradient', full);
        if (m === 0) k.fill(gB, 0);
        else k.gemmBatched(true, false, K, n, m, 1, ea.buf, K, ea.stride, g, n, m * n, 0, gB, n, K * n, P);
        gB = sumToShape(k, gB, full, p.bShape);
      }
    } finally {
      if (ea?.owned) k.free(ea.buf);
      if (eb?.owned) k.free(eb.buf);
    }
    return [gA, gB];
  });
  return result;
}
