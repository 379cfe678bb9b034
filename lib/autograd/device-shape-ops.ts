// The shape ops of ./ops on a device (permute/transpose, select/narrow, cat/stack, indexSelect, the view's
// gradient): copies through strides in new device memory, their gradients copied (or scatter-added) back the same way.
import { DType, Tensor } from '../tensor';
import { Buf, TensorKernels } from './device-kernels';
import { F32, alloc, contiguous, copyOf, numel, opOf, recordOn, stridedCopy, wrap, zeros } from './device-support';

// ---------------------------------------------------------------------------------------------------------
// Shape operations (copies; the gradient is copied back through the same strides)

export function permuteOp(k: TensorKernels, name: string, x: F32, perm: readonly number[]): F32 {
  const own = contiguous(x.shape);
  const outShape = perm.map((p) => x.shape[p]);
  const read = perm.map((p) => own[p]);
  const out = alloc(k, `${opOf(name)} result`, outShape);
  stridedCopy(k, out, 0, contiguous(outShape), x.storage() as Buf, 0, read, outShape);
  const result = wrap(out, outShape);
  recordOn(k, result, name, [x], (g) => {
    const gx = alloc(k, `${opOf(name)} gradient`, x.shape);
    stridedCopy(k, gx, 0, read, g, 0, contiguous(outShape), outShape);
    return [gx];
  }, false);
  return result;
}

/** `length` entries from `start` along the middle axis of (outer, size, inner). */
export function sliceOp(k: TensorKernels, name: string, x: F32, outer: number, size: number, inner: number, start: number, length: number,
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

/** Concatenation along the middle axis of (outer, sizes[j], inner) pieces (cat and stack). */
export function concatOp(k: TensorKernels, name: string, list: F32[], outer: number, sizes: number[], inner: number, outShape: number[]): F32 {
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

/** Entries at `index` (validated, in [0, size)) along the middle axis of (outer, size, inner). */
export function indexSelectOp(k: TensorKernels, name: string, x: F32, outer: number, size: number, inner: number, index: BigInt64Array,
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

/** Records a device reshape (a view over the same memory): the gradient is copied back on the device. */
export function recordView(k: TensorKernels, result: Tensor<DType>, input: Tensor<DType>): void {
  recordOn(k, result, 'ViewBackward0', [input], (g) => [copyOf(k, g, input.numel)], false);
}
