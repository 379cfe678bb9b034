// What the functionals share: the reduction option of the losses (on the host and on a device), optional tensor
// arguments, and the recording of a host result's node.
import { checkOneOf } from '../../checks';
import { recordNode } from '../../autograd/node';
import { BINARY, Buf, TensorKernels, filled } from '../../autograd/device-kernels';
import { alloc, binaryInto, wrap } from '../../autograd/device-support';
import { Tensor, checkTensor } from '../../tensor';

export type F32 = Tensor<'float32'>;
export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTIONS: readonly Reduction[] = ['none', 'mean', 'sum'];

/** A tensor's device memory, for the kernels. */
export const buf = (t: F32) => t.storage() as Buf;

/** An optional float32 tensor argument: undefined and null mean none. */
export function optionalTensor(name: string, value: unknown): Tensor<'float32'> | null {
  return value === undefined || value === null ? null : checkTensor(name, value);
}

type BackwardFn = (grad: Float32Array, wanted: readonly boolean[]) => (Float32Array | null)[];

/**
 * Makes `output` the result of a new graph node over `inputs` (null entries and tensors that need no gradient get
 * none), when grad mode is on and some input needs a gradient. `backward` gets the output's gradient and which
 * inputs want theirs; what it captured is dropped once the engine has used it.
 */
export function record(name: string, output: Tensor<'float32'>, inputs: (Tensor<'float32'> | null)[], backward: BackwardFn): void {
  recordNode(output, `${name}Backward`, inputs, backward);
}

export function toFloat32(values: Float64Array): Float32Array {
  return Float32Array.from(values);
}

export function reductionOf(opts: Record<string, unknown>): Reduction {
  return opts.reduction === undefined ? 'mean' : checkOneOf('reduction', opts.reduction, REDUCTIONS);
}

/** The loss tensor of per-element `losses` (float64) under `reduction`, and dLoss/dElement from the output gradient. */
export function reduceLosses(losses: Float64Array, shape: readonly number[], reduction: Reduction, denominator = losses.length): {
  output: Tensor<'float32'>;
  elementGrad: (g: Float32Array, e: number) => number;
} {
  if (reduction === 'none') return { output: new Tensor(toFloat32(losses), shape), elementGrad: (g, e) => g[e] };
  let sum = 0;
  for (let e = 0; e < losses.length; e++) sum += losses[e];
  const scale = reduction === 'mean' ? 1 / denominator : 1;
  return { output: new Tensor(new Float32Array([sum * scale]), []), elementGrad: (g) => g[0] * scale };
}

/** The loss of `reduction` from per-element losses `losses` (n of them; shape `shape` for 'none'); takes `losses`. */
export function reduceLossOnDevice(k: TensorKernels, losses: Buf, n: number, shape: readonly number[], reduction: Reduction, denominator: Buf | number): F32 {
  if (reduction === 'none') return wrap(losses, shape);
  const out = alloc(k, 'loss', []);
  if (typeof denominator === 'number' || reduction === 'sum') {
    k.sumMiddle(out, losses, 1, n, 1, reduction === 'mean' ? 1 / (denominator as number) : 1);
  } else {
    const total = alloc(k, 'loss sum', []);
    k.sumMiddle(total, losses, 1, n, 1, 1);
    binaryInto(k, BINARY.div, out, total, [1], denominator, [1], [1], 1);
    k.free(total);
  }
  k.free(losses);
  return wrap(out, []);
}

/** dLoss/dElement for each of n elements: g itself ('none') or g broadcast, times `scale`, in new memory. */
export function elementGradOnDevice(k: TensorKernels, g: Buf, n: number, reduction: Reduction, scale: number): Buf {
  const out = alloc(k, 'loss gradient', [n]);
  const s = filled(k, 1, scale);
  try {
    binaryInto(k, BINARY.mul, out, g, [reduction === 'none' ? 1 : 0], s, [0], [n], 1);
  } finally {
    k.free(s);
  }
  return out;
}
