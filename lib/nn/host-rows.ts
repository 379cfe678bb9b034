// Host memory of any dtype for the packing utilities. Like PyTorch's, they take tensors of every dtype (token
// ids in int64 as well as float features), so they copy rows of raw host arrays: Float32Array, Uint16Array (the
// bits of float16/bfloat16, copied exactly) or BigInt64Array. A CUDA tensor is downloaded once and the result
// uploaded once, as packPaddedSequence always did.
import { DeviceBuffer, FloatStorage } from '../binding';
import { describe } from '../checks';
import { Device, copyStorage } from '../cuda';
import { FloatDType, isHalfDType, numberToHalf } from '../half';
import { numel } from '../shape';
import { AnyTensor, DType, DataFor, Tensor } from '../tensor';

export type HostArray = Float32Array | Uint16Array | BigInt64Array;

/** A usable tensor of any dtype, or a TypeError/Error naming the argument. */
export function checkAnyTensor(name: string, value: unknown): AnyTensor {
  if (!(value instanceof Tensor)) throw new TypeError(`Expected a Tensor for ${name} but received ${describe(value)}`);
  if (value.disposed) throw new Error(`${name} is a disposed Tensor; it can no longer be used`);
  return value as AnyTensor;
}

/** `n` zero elements of `dtype`'s host memory. */
export function allocHost(dtype: DType, n: number): HostArray {
  return dtype === 'int64' ? new BigInt64Array(n) : isHalfDType(dtype) ? new Uint16Array(n) : new Float32Array(n);
}

/**
 * `n` elements of `dtype`, all `value`: rounded to a half dtype, truncated toward zero for int64 (as PyTorch fills
 * a long tensor from a float padding value), which then needs a finite value in int64's range.
 */
export function filledHost(dtype: DType, n: number, value: number, name: string): HostArray {
  if (dtype === 'int64') {
    if (!Number.isFinite(value)) throw new RangeError(`Expected a finite ${name} for int64 sequences but received ${value}`);
    // BigInt64Array would wrap 2^63 around to -2^63; PyTorch refuses the overflow
    if (Math.trunc(value) < -(2 ** 63) || Math.trunc(value) >= 2 ** 63) throw new RangeError(`${name} ${value} cannot be converted to type int64 without overflow`);
    return new BigInt64Array(n).fill(BigInt(Math.trunc(value)));
  }
  if (isHalfDType(dtype)) return new Uint16Array(n).fill(numberToHalf(dtype, value));
  return new Float32Array(n).fill(value);
}

/** A tensor of `dtype` over `host` on `device`: the array itself on the CPU, an upload on CUDA. */
export function placed<D extends DType>(host: HostArray, shape: readonly number[], dtype: D, device: Device): Tensor<D> {
  if (device === 'cpu') return new Tensor<D>(host as DataFor<D>, shape, dtype);
  return new Tensor<D>(copyStorage(host as FloatStorage, device, dtype as FloatDType) as DeviceBuffer, shape);
}

/** Elements per row: the product of the dimensions after the first `lead` ones. */
export function rowSize(shape: readonly number[], lead: number): number {
  return numel(shape.slice(lead));
}
