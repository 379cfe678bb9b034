// Joining ops: cat (along an existing dim) and stack (along a new one), both a concatenation along the middle
// axis of [outer, size, inner] layouts, on float32 or int64 tensors; each input's gradient is its slice of the
// output's, host loop and device branch side by side.
import { describe, sameShape, shapeText } from '../../checks';
import { DType, DataFor, Tensor } from '../../tensor';
import { around, contiguous, numel } from '../../shape';
import { Buf, TensorKernels } from '../device-kernels';
import { alloc, opOf, recordOn, stridedCopy, wrap } from '../device-support';
import { AnyData, F32, allocateStorage, checkInput, deviceOf, record, wrapDim } from './common';

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
  if (k) return concatOnDevice(k, name, list as Tensor<DType>[] as F32[], outer, sizes, inner, outShape) as Tensor<DType> as Tensor<D>;
  const total = sizes.reduce((x, y) => x + y, 0);
  const out = allocateStorage(list[0].dtype, outer * total * inner) as AnyData;
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

/** Concatenation along the middle axis of (outer, sizes[j], inner) pieces (cat and stack). */
function concatOnDevice(k: TensorKernels, name: string, list: F32[], outer: number, sizes: number[], inner: number, outShape: number[]): F32 {
  const total = sizes.reduce((x, y) => x + y, 0);
  const out = alloc(k, `${opOf(name)} result`, outShape);
  const into = [total * inner, inner, 1];
  const offsets: number[] = [];
  let offset = 0;
  list.forEach((t, j) => {
    offsets.push(offset);
    const view = [outer, sizes[j], inner];
    stridedCopy(k, out, offset * inner, into, t.storage() as Buf, 0, contiguous(view), view);
    offset += sizes[j];
  });
  const result = wrap(out, outShape);
  recordOn(k, result, name, list, (g, needs) =>
    list.map((t, j) => {
      if (!needs[j]) return null;
      const view = [outer, sizes[j], inner];
      const gx = alloc(k, `${opOf(name)} gradient`, t.shape);
      stridedCopy(k, gx, 0, contiguous(view), g, offsets[j] * inner, into, view);
      return gx;
    }), false);
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
  const outer = numel(first.shape.slice(0, d));
  const inner = numel(first.shape.slice(d));
  const outShape = [...first.shape.slice(0, d), list.length, ...first.shape.slice(d)];
  return concatCore('StackBackward0', list, outer, list.map(() => 1), inner, outShape);
}

