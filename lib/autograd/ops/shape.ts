// Shape ops: reshape and view (a view over the same memory, recorded so that the gradient is reshaped back) and
// the copies transpose and permute (values read through permuted strides, the gradient written back through them),
// on float32 or int64 tensors (int64 results never need gradients), host loop and device branch side by side.
import { describe } from '../../checks';
import { DType, DataFor, Tensor } from '../../tensor';
import { contiguous, numel, stridedMap } from '../../shape';
import { Buf, TensorKernels } from '../device-kernels';
import { alloc, copyOf, opOf, recordOn, stridedCopy, wrap } from '../device-support';
import { AnyData, F32, allocateStorage, checkInput, deviceOf, record, wrapDim } from './common';

/** The shape `dims` (one entry may be -1) for `numel` elements; the same checks and messages as Tensor.reshape. */
function inferShape(dims: readonly unknown[], count: number): number[] {
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
    if (known === 0 || count % known !== 0) throw new RangeError(`shape [${dims.join(', ')}] is invalid for input of size ${count}`);
    shape[unknown] = count / known;
  }
  if (numel(shape) !== count) throw new RangeError(`shape [${dims.join(', ')}] is invalid for input of size ${count}`);
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
  // a device view's gradient is copied back on the device
  if (k) recordOn(k, result, 'ViewBackward0', [input], (g) => [copyOf(k, g, input.numel)], false);
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
  if (k) return permuteOnDevice(k, name, x as Tensor<DType> as F32, perm) as Tensor<DType> as Tensor<D>;
  const outShape = perm.map((p) => x.shape[p]);
  const map = stridedMap(outShape, perm.map((p) => own[p]));
  const xs = x.data as AnyData;
  const out = allocateStorage(x.dtype, xs.length) as AnyData;
  for (let k = 0; k < map.length; k++) out[k] = xs[map[k]];
  const result = new Tensor<D>(out as DataFor<D>, outShape, x.dtype);
  record(result, name, [x], (g) => {
    const gx = new Float32Array(map.length);
    for (let k = 0; k < map.length; k++) gx[map[k]] = g[k];
    return [gx];
  });
  return result;
}

function permuteOnDevice(k: TensorKernels, name: string, x: F32, perm: readonly number[]): F32 {
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

