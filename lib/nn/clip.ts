// Gradient clipping, like torch.nn.utils.clip_grad_norm_ and clip_grad_value_: gradients are changed in place,
// parameters without a gradient are skipped.
import { checkBoolean, checkOptions, describe } from '../checks';
import { NativeStorage } from '../binding';
import { copyInto } from '../cuda';
import { Tensor, isTensor } from '../tensor';

export interface ClipGradNormOptions {
  /** Throw when the total norm is NaN or infinite, instead of scaling by it (default false, as in PyTorch). */
  errorIfNonfinite?: boolean;
}

/** The gradients of `params` (a Tensor or an iterable of Tensors), skipping parameters without one. */
function gradientsOf(params: unknown): Tensor<'float32'>[] {
  let list: unknown[];
  if (isTensor(params)) list = [params];
  else if (params !== null && params !== undefined && typeof params !== 'string' && typeof (params as Iterable<unknown>)[Symbol.iterator] === 'function') {
    list = [...(params as Iterable<unknown>)];
  } else {
    throw new TypeError(`Expected a Tensor or an iterable of Tensors for params but received ${describe(params)}`);
  }
  const grads: Tensor<'float32'>[] = [];
  list.forEach((p, i) => {
    if (!isTensor(p)) throw new TypeError(`Expected a Tensor for params[${i}] but received ${describe(p)}`);
    const g = p.grad;
    if (g === null || g === undefined) return;
    if (!isTensor(g) || g.dtype !== 'float32') throw new TypeError(`Expected a float32 Tensor for the grad of params[${i}] but received ${describe(g)}`);
    if (g.disposed) throw new Error(`the grad of params[${i}] is a disposed Tensor; it can no longer be used`);
    grads.push(g);
  });
  return grads;
}

/** Multiplies `t` by `factor` in place, in float32 like PyTorch's `mul_` (on any device). */
function scaleInPlace(t: Tensor<'float32'>, factor: number): void {
  const values = t.hostData();
  for (let i = 0; i < values.length; i++) values[i] = values[i] * factor;
  const storage = t.storage() as NativeStorage;
  if (storage !== values) copyInto(storage, values);
}

/**
 * Clips the gradients of `params` so that their total norm (the `normType`-norm of all gradients together, as
 * if concatenated) is at most `maxNorm`, like `torch.nn.utils.clip_grad_norm_`: with
 * coef = maxNorm / (total + 1e-6), every gradient is multiplied by coef when coef < 1 and left as it is
 * otherwise. Returns the total norm before clipping (computed in float64, returned rounded to float32 like
 * PyTorch's float32 result; 0 when no parameter has a gradient). `normType` is a positive number or Infinity
 * (the largest absolute value).
 */
export function clipGradNorm(
  params: Tensor<'float32'> | Iterable<Tensor<'float32'>>,
  maxNorm: number,
  normType = 2,
  options?: ClipGradNormOptions,
): number {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new TypeError(`Expected number for maxNorm but received ${describe(maxNorm)}`);
  if (maxNorm < 0) throw new RangeError(`Expected a non-negative number for maxNorm but received ${maxNorm}`);
  if (typeof normType !== 'number' || !(normType > 0)) {
    throw new RangeError(`Expected a positive number or Infinity for normType but received ${describe(normType)}`);
  }
  const opts = checkOptions('clipGradNorm options', options, ['errorIfNonfinite']);
  const errorIfNonfinite = opts.errorIfNonfinite === undefined ? false : checkBoolean('errorIfNonfinite', opts.errorIfNonfinite);
  const grads = gradientsOf(params);
  if (grads.length === 0) return 0;

  let total: number;
  if (normType === Infinity) {
    total = 0;
    for (const g of grads) {
      for (const x of g.hostData()) {
        const a = Math.abs(x);
        if (a > total || Number.isNaN(a)) total = a;
      }
    }
  } else {
    let sum = 0;
    for (const g of grads) {
      const values = g.hostData();
      if (normType === 2) for (const x of values) sum += x * x;
      else if (normType === 1) for (const x of values) sum += Math.abs(x);
      else for (const x of values) sum += Math.abs(x) ** normType;
    }
    total = normType === 2 ? Math.sqrt(sum) : normType === 1 ? sum : sum ** (1 / normType);
  }
  const total32 = Math.fround(total);
  if (errorIfNonfinite && !Number.isFinite(total32)) {
    throw new Error(
      `The total norm of order ${normType} for gradients from \`parameters\` is non-finite, so it cannot be clipped. ` +
        'To disable this error and scale the gradients by the non-finite norm anyway, set `errorIfNonfinite: false`',
    );
  }
  // PyTorch in float32: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1, then grads *= coef
  const coef = Math.min(Math.fround(maxNorm / Math.fround(total32 + 1e-6)), 1);
  if (coef !== 1) for (const g of grads) scaleInPlace(g, coef);
  return total32;
}

/**
 * Clamps every gradient of `params` to [-clipValue, clipValue] in place, like `torch.nn.utils.clip_grad_value_`.
 */
export function clipGradValue(params: Tensor<'float32'> | Iterable<Tensor<'float32'>>, clipValue: number): void {
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue)) throw new TypeError(`Expected number for clipValue but received ${describe(clipValue)}`);
  for (const g of gradientsOf(params)) {
    const values = g.hostData();
    // torch.clamp_(min=-clipValue, max=clipValue): NaN stays NaN, and max wins when min > max
    for (let i = 0; i < values.length; i++) values[i] = Math.min(Math.max(values[i], -clipValue), clipValue);
    const storage = g.storage() as NativeStorage;
    if (storage !== values) copyInto(storage, values);
  }
}
