// What every family of differentiable ops shares: argument checks whose messages name the op, the device an op
// runs on (null: the host loop), PyTorch's dim wrapping, and the recording of a host result's node.
import { checkAnyInteger, describe } from '../../checks';
import { DType, DataFor, Tensor } from '../../tensor';
import { TensorKernels, kernelsFor } from '../device-kernels';
import type { F32 } from '../device-support';
import { recordNode } from '../node';

export type { F32 };
/** Host memory of the dtypes the shape ops take. */
export type AnyData = Float32Array | BigInt64Array;

/** A usable tensor (float32 unless `allowInt64` on the CPU), or an error naming the argument and the operation. */
export function checkInput(op: string, name: string, value: unknown, allowInt64 = false): Tensor<DType> {
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

export function checkFloat(op: string, name: string, value: unknown): F32 {
  return checkInput(op, name, value) as F32;
}

/** The device kernels for float32 tensors off the host (null: compute here), after the same-device check. */
export function deviceOf(named: readonly (readonly [string, Tensor<DType> | null])[]): TensorKernels | null {
  const k = kernelsFor(named as readonly (readonly [string, Tensor | null])[]);
  // int64 tensors only live on the CPU, where the host code handles them
  return k && named.every(([, t]) => !t || t.dtype === 'float32') ? k : null;
}

/**
 * PyTorch's maybe_wrap_dim: `dim` in [-ndim, ndim - 1], negative counting from the end. A 0-d tensor accepts 0
 * and -1 (as if it had one dimension) where `scalarOk`, as PyTorch's reductions and softmax do.
 */
export function wrapDim(dim: unknown, ndim: number, name = 'dim', scalarOk = true): number {
  const d = checkAnyInteger(name, dim);
  let n = ndim;
  if (n === 0) {
    if (!scalarOk) throw new RangeError(`Dimension specified as ${d} but tensor has no dimensions`);
    n = 1;
  }
  if (d < -n || d > n - 1) throw new RangeError(`Dimension out of range (expected to be in range of [${-n}, ${n - 1}], but got ${d})`);
  return d < 0 ? d + n : d;
}

/**
 * Makes `out` (a host result) the output of a new node when grad mode is on and one of `inputs` needs a gradient.
 * `backward(g, needs)` returns a gradient (or null) per input; `saves` marks nodes that hold saved values,
 * which `release` frees (a second backward through them then throws, as in PyTorch).
 */
export function record(
  out: Tensor<DType>,
  name: string,
  inputs: readonly unknown[],
  backward: (g: Float32Array, needs: boolean[]) => (Float32Array | null)[],
  saves = false,
): boolean {
  return recordNode(out as F32, name, inputs, backward, saves);
}

/** New host memory of `n` elements of `dtype` (float32 or int64) to write values into. */
export function allocate<D extends DType>(dtype: D, n: number): DataFor<D> {
  return (dtype === 'int64' ? new BigInt64Array(n) : new Float32Array(n)) as DataFor<D>;
}

/**
 * New host memory for `n` elements as a tensor of `dtype` stores them (float16 / bfloat16: their 16-bit words),
 * for ops that copy elements (cat, narrow, permute, indexSelect) rather than compute them.
 */
export function allocateStorage<D extends DType>(dtype: D, n: number): DataFor<D> {
  return (dtype === 'float16' || dtype === 'bfloat16' ? new Uint16Array(n) : allocate(dtype, n)) as DataFor<D>;
}
