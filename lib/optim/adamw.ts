// torch.optim.AdamW: Adam with decoupled weight decay (the parameter is scaled by 1 - lr * weightDecay before
// the Adam update, and the gradient is left alone), default weightDecay 1e-2.
import { AdamBase, AdamGroupOptions, AdamOptions } from './adam';
import { ParamsInput } from './optimizer';

export type AdamWOptions = AdamOptions;

const ADAMW_DEFAULTS: AdamGroupOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false };

/**
 * AdamW, like `torch.optim.AdamW` (defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 1e-2, amsgrad
 * false). Per parameter, at step t: p *= 1 - lr * weightDecay; then Adam's update without the L2 term:
 * m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g²; p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
 */
export class AdamW extends AdamBase {
  constructor(params: ParamsInput<AdamWOptions>, options?: AdamWOptions) {
    super('AdamW', params, options, ADAMW_DEFAULTS, true);
  }
}
