// Recording operations for autograd: a GradNode (declared beside Tensor in lib/tensor.ts) per result that needs one.
import type { Device } from '../cuda';
import type { GradNode, Tensor } from '../tensor';
import { isGradEnabled } from './grad-mode';

export type { GradNode };

/** Whether a gradient must flow to `t`: a leaf that requires grad, or the result of a recorded operation. */
export function needsGrad(t: Tensor | null | undefined): boolean {
  return !!t && (t.requiresGrad || t.gradFn !== null);
}

/**
 * Makes `output` the single output of a new node over `inputs` when grad mode is on and one of them needs a
 * gradient; returns whether it did. `backward(grad, needs)` gets dL/d(output) and which inputs need gradients.
 * `freesState`: the closure holds saved tensors, so a second backward through it is refused, as in PyTorch.
 * `device`: where backward wants `grad` (a DeviceBuffer on CUDA, typed as Float32Array for the host callers).
 * `onRelease`: frees memory only backward needed (device temporaries), once the engine is done with the node.
 */
export function recordNode(
  output: Tensor,
  name: string,
  inputs: readonly unknown[],
  backward: (grad: Float32Array, needs: boolean[]) => (Float32Array | null)[],
  freesState = true,
  device?: Device,
  onRelease?: () => void,
): boolean {
  if (!isGradEnabled()) return false;
  const ins = inputs.map((t) => (isTensorValue(t) && t.dtype === 'float32' && needsGrad(t) ? t : null));
  if (!ins.some((t) => t !== null)) return false;
  const needs = ins.map((t) => t !== null);
  let live = true;
  const node: GradNode = {
    name,
    inputs: ins,
    outputCount: 1,
    ...(device !== undefined && device !== 'cpu' ? { device } : {}),
    backward([grad]) {
      if (!live) throw new Error(`Trying to backward through the graph a second time: the saved state of ${name} was already freed`);
      if (!grad) return ins.map(() => null);
      return backward(grad as Float32Array, needs).map((g, i) => (needs[i] ? g : null));
    },
    release() {
      if (freesState) live = false;
      onRelease?.();
    },
  };
  output.gradFn = node;
  output.outputIndex = 0;
  return true;
}

function isTensorValue(value: unknown): value is Tensor {
  return typeof value === 'object' && value !== null && 'gradFn' in value && 'dtype' in value;
}
