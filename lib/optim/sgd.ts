// torch.optim.SGD (the single-tensor algorithm, foreach=False): L2 weight decay added to the gradient,
// momentum buffer started as a copy of the first (decayed) gradient, optional dampening and Nesterov momentum.
import { checkOptions } from '../checks';
import { Tensor } from '../tensor';
import { DeviceBuffer, native } from '../binding';
import { Optimizer, ParamGroup, ParamState, ParamsInput, StateKeys, commit, hostValues, optionBoolean, optionNumber, tensorLike, zerosLike } from './optimizer';

export interface SGDOptions {
  /** Learning rate (required, >= 0). */
  lr: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening for momentum (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** SGD's hyperparameters, all given (what each parameter group holds). */
export type SGDGroupOptions = Required<SGDOptions>;

const SGD_KEYS = ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize'] as const;

function resolveSGDOptions(raw: Record<string, unknown>, base: SGDGroupOptions | null): SGDGroupOptions {
  if (base === null && raw.lr === undefined) {
    throw new TypeError('Expected number for lr (SGD has no default learning rate) but received undefined');
  }
  const pick = <K extends keyof SGDGroupOptions>(key: K, fallback: SGDGroupOptions[K]): unknown =>
    raw[key] !== undefined ? raw[key] : base !== null ? base[key] : fallback;
  const lr = optionNumber('lr', pick('lr', 0));
  const momentum = optionNumber('momentum', pick('momentum', 0));
  const dampening = optionNumber('dampening', pick('dampening', 0));
  const weightDecay = optionNumber('weightDecay', pick('weightDecay', 0));
  const nesterov = optionBoolean('nesterov', pick('nesterov', false));
  const maximize = optionBoolean('maximize', pick('maximize', false));
  if (!(lr >= 0)) throw new RangeError(`Invalid learning rate: ${lr}`);
  if (!(momentum >= 0)) throw new RangeError(`Invalid momentum value: ${momentum}`);
  if (!(weightDecay >= 0)) throw new RangeError(`Invalid weight_decay value: ${weightDecay}`);
  if (nesterov && (momentum <= 0 || dampening !== 0)) throw new RangeError('Nesterov momentum requires a momentum and zero dampening');
  return { lr, momentum, dampening, weightDecay, nesterov, maximize };
}

/**
 * Stochastic gradient descent, optionally with momentum, like `torch.optim.SGD`. Per parameter with gradient g:
 * g += weightDecay * p; with momentum, buf = g at the first step, then buf = momentum * buf + (1 - dampening) * g,
 * and g = nesterov ? g + momentum * buf : buf; finally p -= lr * g. State: `momentum_buffer` (with momentum only).
 */
export class SGD extends Optimizer<SGDGroupOptions> {
  constructor(params: ParamsInput<SGDOptions>, options: SGDOptions) {
    super('SGD', params, resolveSGDOptions(checkOptions('SGD options', options, SGD_KEYS), null));
  }

  protected override resolveOptions(raw: Record<string, unknown>, base: SGDGroupOptions): SGDGroupOptions {
    return resolveSGDOptions(raw, base);
  }

  protected override stateKeys(): StateKeys {
    return { requiredTensors: [], optionalTensors: ['momentum_buffer'], numbers: [] };
  }

  protected override update(group: ParamGroup<SGDGroupOptions>, param: Tensor<'float32'>, grad: Tensor<'float32'>, state: ParamState): void {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    // PyTorch's CPU kernels take their scalar arguments in the tensor's type (float32); `add` with alpha is a
    // fused multiply-add, which a double product of two floats and one rounding reproduce
    const f = Math.fround;
    const wd32 = f(weightDecay);
    const momentum32 = f(momentum);
    const keep32 = f(1 - dampening);
    const negLr32 = f(-lr);
    if (param.device !== 'cpu' && native.cudaSgdStep) {
      // on the GPU, in place: the same float32 arithmetic as below (native/cuda/cuda_optim_kernels.cu)
      const first = momentum !== 0 && state.momentum_buffer === undefined;
      if (first) state.momentum_buffer = zerosLike(param);
      const buf = momentum !== 0 ? ((state.momentum_buffer as Tensor<'float32'>).storage() as DeviceBuffer) : null;
      native.cudaSgdStep(param.storage() as DeviceBuffer, grad.storage() as DeviceBuffer, buf, negLr32, wd32, momentum32, keep32,
        nesterov, maximize, first);
      return;
    }
    const p = hostValues(param);
    const g = hostValues(grad);
    const n = p.length;
    // d = grad.add(param, alpha=weight_decay): a new tensor, as in PyTorch (the grad itself is left as it is)
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const gi = maximize ? -g[i] : g[i];
      d[i] = weightDecay !== 0 ? gi + wd32 * p[i] : gi;
    }
    let step: Float32Array = d;
    if (momentum !== 0) {
      const existing = state.momentum_buffer;
      let buf: Float32Array;
      if (existing === undefined) {
        // buf = torch.clone(grad).detach()
        buf = d.slice();
        state.momentum_buffer = tensorLike(param, buf);
      } else {
        // buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        const bufTensor = existing as Tensor<'float32'>;
        buf = hostValues(bufTensor);
        for (let i = 0; i < n; i++) buf[i] = f(buf[i] * momentum32) + keep32 * d[i];
        commit(bufTensor, buf);
      }
      if (nesterov) {
        // grad = grad.add(buf, alpha=momentum)
        step = new Float32Array(n);
        for (let i = 0; i < n; i++) step[i] = d[i] + momentum32 * buf[i];
      } else {
        step = buf;
      }
    }
    // param.add_(grad, alpha=-lr)
    for (let i = 0; i < n; i++) p[i] = p[i] + negLr32 * step[i];
    commit(param, p);
  }
}
