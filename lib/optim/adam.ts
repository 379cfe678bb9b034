// torch.optim.Adam (the single-tensor algorithm, foreach=False, capturable=False): L2 weight decay added to the
// gradient, moments as running averages, bias corrections from the step count, eps added to the corrected
// square root, optional AMSGrad. `AdamBase` holds the algorithm; AdamW (adamw.ts) uses it with decoupled decay.
import { checkOptions, describe } from '../checks';
import { DeviceBuffer, native } from '../binding';
import { Tensor } from '../tensor';
import { Optimizer, ParamGroup, ParamState, ParamsInput, StateKeys, commit, hostValues, optionBoolean, optionNumber, zerosLike } from './optimizer';

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Running average coefficients of the gradient and its square (default [0.9, 0.999]), each in [0, 1). */
  betas?: [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
  /** Weight decay: an L2 penalty for Adam (default 0), decoupled for AdamW (default 1e-2). */
  weightDecay?: number;
  /** The AMSGrad variant (default false). */
  amsgrad?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** Adam's and AdamW's hyperparameters, all given (what each parameter group holds). */
export type AdamGroupOptions = Required<AdamOptions>;

export const ADAM_KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'] as const;

/** Validates Adam/AdamW options, completing them from `base`, with PyTorch's messages for out-of-range values. */
export function resolveAdamOptions(raw: Record<string, unknown>, base: AdamGroupOptions): AdamGroupOptions {
  const pick = (key: keyof AdamGroupOptions): unknown => (raw[key] !== undefined ? raw[key] : base[key]);
  const lr = optionNumber('lr', pick('lr'));
  const betasValue = pick('betas');
  if (!Array.isArray(betasValue) || betasValue.length !== 2 || betasValue.some((b) => typeof b !== 'number')) {
    throw new TypeError(`Expected an array of two numbers for betas but received ${describe(betasValue)}`);
  }
  const betas: [number, number] = [betasValue[0], betasValue[1]];
  const eps = optionNumber('eps', pick('eps'));
  const weightDecay = optionNumber('weightDecay', pick('weightDecay'));
  const amsgrad = optionBoolean('amsgrad', pick('amsgrad'));
  const maximize = optionBoolean('maximize', pick('maximize'));
  if (!(lr >= 0)) throw new RangeError(`Invalid learning rate: ${lr}`);
  if (!(eps >= 0)) throw new RangeError(`Invalid epsilon value: ${eps}`);
  if (!(betas[0] >= 0 && betas[0] < 1)) throw new RangeError(`Invalid beta parameter at index 0: ${betas[0]}`);
  if (!(betas[1] >= 0 && betas[1] < 1)) throw new RangeError(`Invalid beta parameter at index 1: ${betas[1]}`);
  if (!(weightDecay >= 0)) throw new RangeError(`Invalid weight_decay value: ${weightDecay}`);
  return { lr, betas, eps, weightDecay, amsgrad, maximize };
}

/**
 * The Adam algorithm shared by `Adam` (weight decay as an L2 penalty on the gradient) and `AdamW` (decoupled:
 * the parameter is first scaled by 1 - lr * weightDecay). State per parameter: `step` (a number), `exp_avg`,
 * `exp_avg_sq`, and `max_exp_avg_sq` with AMSGrad.
 */
export abstract class AdamBase extends Optimizer<AdamGroupOptions> {
  readonly #decoupled: boolean;

  protected constructor(name: string, params: unknown, options: unknown, defaults: AdamGroupOptions, decoupledWeightDecay: boolean) {
    super(name, params, resolveAdamOptions(checkOptions(`${name} options`, options, ADAM_KEYS), defaults));
    this.#decoupled = decoupledWeightDecay;
  }

  protected override resolveOptions(raw: Record<string, unknown>, base: AdamGroupOptions): AdamGroupOptions {
    return resolveAdamOptions(raw, base);
  }

  protected override stateKeys(options: AdamGroupOptions): StateKeys {
    return {
      requiredTensors: options.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'],
      optionalTensors: options.amsgrad ? [] : ['max_exp_avg_sq'],
      numbers: ['step'],
    };
  }

  protected override update(group: ParamGroup<AdamGroupOptions>, param: Tensor<'float32'>, grad: Tensor<'float32'>, state: ParamState): void {
    const { lr, eps, weightDecay, amsgrad, maximize } = group;
    const [beta1, beta2] = group.betas;
    const f = Math.fround;
    if (state.step === undefined) {
      state.step = 0;
      state.exp_avg = zerosLike(param);
      state.exp_avg_sq = zerosLike(param);
      if (amsgrad) state.max_exp_avg_sq = zerosLike(param);
    } else if (amsgrad && state.max_exp_avg_sq === undefined) {
      // amsgrad switched on after earlier steps
      state.max_exp_avg_sq = zerosLike(param);
    }
    const step = (state.step as number) + 1;
    state.step = step;
    const expAvgT = state.exp_avg as Tensor<'float32'>;
    const expAvgSqT = state.exp_avg_sq as Tensor<'float32'>;
    const maxT = amsgrad ? (state.max_exp_avg_sq as Tensor<'float32'>) : null;
    if (param.device !== 'cpu' && native.cudaAdamStep) {
      // on the GPU, in place: the same float32 arithmetic as below (native/cuda/cuda_optim_kernels.cu)
      const dev = (t: Tensor<'float32'>) => t.storage() as DeviceBuffer;
      const bc1 = 1 - beta1 ** step;
      const w1GPU = f(1 - beta1);
      native.cudaAdamStep(dev(param), dev(grad), dev(expAvgT), dev(expAvgSqT), maxT === null ? null : dev(maxT), f(-(lr / bc1)),
        f(Math.sqrt(1 - beta2 ** step)), f(eps), f(weightDecay), f(1 - lr * weightDecay), w1GPU, f(1 - w1GPU), f(beta2),
        f(1 - beta2), this.#decoupled, maximize);
      return;
    }
    const p = hostValues(param);
    const g = hostValues(grad);
    const m = hostValues(expAvgT);
    const v = hostValues(expAvgSqT);
    const vMax = maxT === null ? null : hostValues(maxT);

    // Python-side scalars in double; PyTorch's CPU kernels then take each scalar argument as a float32
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2 = 1 - beta2 ** step;
    const stepSize = lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
    const negStepSize32 = f(-stepSize);
    const bc2Sqrt32 = f(biasCorrection2Sqrt);
    const eps32 = f(eps);
    const wd32 = f(weightDecay);
    const decay32 = f(1 - lr * weightDecay);
    const w1 = f(1 - beta1);
    const beta2_32 = f(beta2);
    const w2 = f(1 - beta2);
    for (let i = 0; i < p.length; i++) {
      let gi = maximize ? -g[i] : g[i];
      if (weightDecay !== 0) {
        if (this.#decoupled) p[i] = p[i] * decay32; // param.mul_(1 - lr * weight_decay)
        else gi = f(gi + wd32 * p[i]); // grad = grad.add(param, alpha=weight_decay)
      }
      // exp_avg.lerp_(grad, 1 - beta1): start + weight * (end - start), fused (weight < 0.5), else
      // end - (end - start) * (1 - weight)
      const diff = f(gi - m[i]);
      m[i] = w1 < 0.5 ? m[i] + w1 * diff : gi - diff * f(1 - w1);
      // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2): self + (value * t1) * t2, the last step
      // fused (what PyTorch's CPU build computes, bit for bit)
      v[i] = f(v[i] * beta2_32) + f(w2 * gi) * gi;
      let second = v[i];
      if (vMax !== null) {
        // torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq) (NaN propagates)
        if (v[i] > vMax[i] || Number.isNaN(v[i])) vMax[i] = v[i];
        second = vMax[i];
      }
      // denom = (second.sqrt() / sqrt(bias_correction2)).add_(eps)
      const denom = f(f(f(Math.sqrt(second)) / bc2Sqrt32) + eps32);
      // param.addcdiv_(exp_avg, denom, value=-step_size): param + (value * exp_avg) / denom
      p[i] = p[i] + f(f(negStepSize32 * m[i]) / denom);
    }
    commit(expAvgT, m);
    commit(expAvgSqT, v);
    if (maxT !== null && vMax !== null) commit(maxT, vMax);
    commit(param, p);
  }
}

const ADAM_DEFAULTS: AdamGroupOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };

/**
 * Adam, like `torch.optim.Adam` (defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0 as an L2
 * penalty, amsgrad false). Per parameter, at step t: g += weightDecay * p; m = beta1 m + (1 - beta1) g;
 * v = beta2 v + (1 - beta2) g²; (AMSGrad: vMax = max(vMax, v), used for v);
 * p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
 */
export class Adam extends AdamBase {
  constructor(params: ParamsInput<AdamOptions>, options?: AdamOptions) {
    super('Adam', params, options, ADAM_DEFAULTS, false);
  }
}
