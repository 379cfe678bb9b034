// Indexing ops: select and narrow (a slice along one dim, the gradient written back into zeros) and indexSelect
// (entries at int64 positions, gradients scatter-added so that repeated positions accumulate), on float32 or int64
// tensors, host loop and device branch side by side.
import { checkAnyInteger, shapeText } from '../../checks';
import { DType, DataFor, Tensor } from '../../tensor';
import { around, contiguous, numel } from '../../shape';
import { Buf, TensorKernels } from '../device-kernels';
import { alloc, opOf, recordOn, stridedCopy, wrap, zeros } from '../device-support';
import { AnyData, F32, allocateStorage, checkInput, deviceOf, record, wrapDim } from './common';

/** Copies `length` entries from `start` along the middle axis of an [outer, size, inner] layout. */
function sliceCore<D extends DType>(name: string, x: Tensor<D>, d: number, start: number, length: number, outShape: number[]): Tensor<D> {
  const [outer, size, inner] = around(x.shape, d);
  const k = deviceOf([['input', x]]);
  if (k) return sliceOnDevice(k, name, x as Tensor<DType> as F32, outer, size, inner, start, length, outShape) as Tensor<DType> as Tensor<D>;
  const xs = x.data as AnyData;
  const chunk = length * inner;
  const out = allocateStorage(x.dtype, outer * chunk) as AnyData;
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

/** `length` entries from `start` along the middle axis of (outer, size, inner). */
function sliceOnDevice(k: TensorKernels, name: string, x: F32, outer: number, size: number, inner: number, start: number, length: number,
  outShape: number[]): F32 {
  const view = [outer, length, inner];
  const strides = [size * inner, inner, 1];
  const out = alloc(k, `${opOf(name)} result`, outShape);
  stridedCopy(k, out, 0, contiguous(view), x.storage() as Buf, start * inner, strides, view);
  const result = wrap(out, outShape);
  recordOn(k, result, name, [x], (g) => {
    const gx = zeros(k, x.numel);
    stridedCopy(k, gx, start * inner, strides, g, 0, contiguous(view), view);
    return [gx];
  }, false);
  return result;
}

/** The slice at `index` along `dim` (negative index counts from the end), without that dimension (a copy). */
export function select<D extends DType>(input: Tensor<D>, dim: number, index: number): Tensor<D> {
  const x = checkInput('select', 'input', input, true) as Tensor<D>;
  if (x.ndim === 0) throw new RangeError('select() cannot be applied to a 0-dim tensor.');
  const d = wrapDim(dim, x.ndim);
  const i = checkAnyInteger('index', index);
  const size = x.shape[d];
  if (i < -size || i >= size) throw new RangeError(`select(): index ${i} out of range for tensor of size ${shapeText(x.shape)} at dimension ${d}`);
  return sliceCore('SelectBackward0', x, d, i < 0 ? i + size : i, 1, x.shape.filter((_, j) => j !== d));
}

/** `length` entries of `dim` from `start` (negative start counts from the end) (a copy). */
export function narrow<D extends DType>(input: Tensor<D>, dim: number, start: number, length: number): Tensor<D> {
  const x = checkInput('narrow', 'input', input, true) as Tensor<D>;
  if (x.ndim === 0) throw new RangeError('narrow() cannot be applied to a 0-dim tensor.');
  const d = wrapDim(dim, x.ndim);
  let s = checkAnyInteger('start', start);
  const len = checkAnyInteger('length', length);
  if (len < 0) throw new RangeError('narrow(): length must be non-negative.');
  const size = x.shape[d];
  if (s < -size || s > size) throw new RangeError(`start out of range (expected to be in range of [${-size}, ${size}], but got ${s})`);
  if (s < 0) s += size;
  if (s > size - len) throw new RangeError(`start (${s}) + length (${len}) exceeds dimension size (${size}).`);
  return sliceCore('NarrowBackward0', x, d, s, len, x.shape.map((v, j) => (j === d ? len : v)));
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
  if (k) return indexSelectOnDevice(k, 'IndexSelectBackward0', x as Tensor<DType> as F32, outer, size, inner, BigInt64Array.from(positions, BigInt), outShape) as Tensor<DType> as Tensor<D>;
  const xs = x.data as AnyData;
  const out = allocateStorage(x.dtype, outer * N * inner) as AnyData;
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

/** Entries at `index` (validated, in [0, size)) along the middle axis of (outer, size, inner). */
function indexSelectOnDevice(k: TensorKernels, name: string, x: F32, outer: number, size: number, inner: number, index: BigInt64Array,
  outShape: number[]): F32 {
  const out = alloc(k, `${opOf(name)} result`, outShape);
  if (numel(outShape) > 0) k.indexSelect(out, x.storage() as Buf, outer, size, inner, index);
  const result = wrap(out, outShape);
  recordOn(k, result, name, [x], (g) => {
    const gx = zeros(k, x.numel);
    if (numel(outShape) > 0) k.indexAdd(gx, g, outer, size, inner, index, -1);
    return [gx];
  });
  return result;
}
