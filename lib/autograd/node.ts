// A recorded operation: which tensors it read and how to turn gradients of its outputs into theirs.
import type { Tensor } from '../tensor';

export interface GradNode {
  readonly name: string;
  /** The inputs that gradients flow to, in the order `backward` returns them (null: no gradient needed). */
  readonly inputs: readonly (Tensor | null)[];
  readonly outputCount: number;
  /** Gradients of the inputs from those of the outputs (null where no gradient reached an output). */
  backward(gradOutputs: readonly (Float32Array | null)[]): (Float32Array | null)[];
  /** Frees what the node saved; called once backward has used it. */
  release(): void;
}

/** Whether a gradient must flow to `t`: a leaf that requires grad, or the result of a recorded operation. */
export function needsGrad(t: Tensor | null | undefined): boolean {
  return !!t && (t.requiresGrad || t.gradFn !== null);
}
