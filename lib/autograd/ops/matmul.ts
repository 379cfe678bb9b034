// Matrix products like torch.matmul (dot, matrix-vector, matrix-matrix, batched with broadcast batch dims): the
// checks with PyTorch's messages, the host loop (float64 accumulation per output row), the device branch (batched
// GEMMs) and both backwards side by side.
import { shapeText } from '../../checks';
import { checkTensorAllocation } from '../../limits';
import { Tensor } from '../../tensor';
import { broadcastMap, broadcastShapes, broadcastStrides, contiguous, numel } from '../../shape';
import { Buf, TensorKernels } from '../device-kernels';
import { alloc, recordOn, stridedCopy, sumToShape, wrap } from '../device-support';
import { F32, checkFloat, deviceOf, record } from './common';

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
    const rows = numel(batchA) * m;
    if (a.ndim === 1 && b.ndim === 1) {
      throw new RangeError(`inconsistent tensor size, expected tensor [${k}] and src [${k2}] to have the same number of elements, but got ${k} and ${k2} elements respectively`);
    }
    if (b.ndim === 1) throw new RangeError(`size mismatch, got input (${rows}), mat (${rows}x${k}), vec (${k2})`);
    if (b.ndim === 2) throw new RangeError(`mat1 and mat2 shapes cannot be multiplied (${rows}x${k} and ${k2}x${n})`);
    const batches = numel(broadcastShapes(batchA, batchB));
    throw new RangeError(`Expected size for first two dimensions of batch2 tensor to be: [${batches}, ${k}] but got: [${batches}, ${k2}].`);
  }
  const batch = broadcastShapes(batchA, batchB);
  const P = numel(batch);
  const outShape = [...batch];
  if (a.ndim > 1) outShape.push(m);
  if (b.ndim > 1) outShape.push(n);
  const name = a.ndim === 1 && b.ndim === 1 ? 'DotBackward0' : a.ndim <= 2 && b.ndim <= 2 ? (b.ndim === 1 ? 'MvBackward0' : 'MmBackward0') : 'BmmBackward0';
  if (kernels) return matmulOnDevice(kernels, name, a, b, { aShape, bShape, batch, m, k, n, outShape });
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

interface MatmulPlan {
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

function matmulOnDevice(k: TensorKernels, name: string, a: F32, b: F32, p: MatmulPlan): F32 {
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
