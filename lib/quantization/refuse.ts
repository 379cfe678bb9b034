// The refusal of a forward that would record for backward through a module made by quantizeDynamic.
import { isGradEnabled } from '../autograd/grad-mode';
import { needsGrad } from '../autograd/node';
import type { Tensor } from '../tensor';

/**
 * Throws when grad mode is on and an input requires grad: a quantized module (or one made by
 * optimizeForInference: `made` says how it was made) is for inference only.
 */
export function refuseRecording(moduleName: string, inputs: readonly (Tensor | null)[], made = 'was quantized to int8 by quantizeDynamic'): void {
  if (isGradEnabled() && inputs.some((t) => needsGrad(t))) {
    throw new Error(
      `${moduleName} ${made} and is inference-only: it has no backward. Run it under ` +
        'noGrad() or on inputs that do not require grad (x.detach()), or train the float32 module',
    );
  }
}
