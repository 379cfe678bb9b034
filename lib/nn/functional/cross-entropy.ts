// torch.nn.functional.cross_entropy with class-index targets (int64, validated on the host where they live): the
// host loop (a stable log-sum-exp per element) and the device branch (log-softmax kernels, the target entries
// gathered), each with its backward.
import { checkInteger, checkOptions, describe, sameShape, shapeText } from '../../checks';
import { isGradEnabled } from '../../autograd/grad-mode';
import { BINARY, Buf, TensorKernels, UNARY, kernelsFor } from '../../autograd/device-kernels';
import { alloc, binaryInto, recordOn, scaledCopy, zeros } from '../../autograd/device-support';
import { needsGrad } from '../../autograd/node';
import { numel } from '../../shape';
import { Tensor, checkTensor } from '../../tensor';
import { F32, Reduction, buf, elementGradOnDevice, optionalTensor, record, reduceLossOnDevice, reduceLosses, reductionOf } from './common';

export interface CrossEntropyOptions {
  /** 'mean' (default: the weighted mean over the targets that are not ignored), 'sum' or 'none'. */
  reduction?: Reduction;
  /** Targets equal to this contribute nothing, to the loss or to the mean's denominator (default -100). */
  ignoreIndex?: number;
  /** A rescaling weight for each class, float32 [C]; treated as a constant (it gets no gradient). */
  weight?: Tensor<'float32'>;
}

/**
 * torch.nn.functional.cross_entropy with class-index targets: `-weight[t] * logSoftmax(input)[t]` per sample.
 * input [N, C] with target int64 [N]; [C] with a 0-d target; or [N, C, d1, ...] with target [N, d1, ...].
 */
export function crossEntropy(input: Tensor<'float32'>, target: Tensor<'int64'>, options?: CrossEntropyOptions): Tensor<'float32'> {
  const opts = checkOptions('crossEntropy options', options, ['reduction', 'ignoreIndex', 'weight']);
  const reduction = reductionOf(opts);
  const ignoreIndex = opts.ignoreIndex === undefined ? -100 : checkInteger('ignoreIndex', opts.ignoreIndex, { min: Number.MIN_SAFE_INTEGER });
  const x = checkTensor('input', input);
  if (!(target instanceof Tensor)) throw new TypeError(`Expected a Tensor for target but received ${describe(target)}`);
  if (target.disposed) throw new Error('target is a disposed Tensor; it can no longer be used');
  if (target.dtype !== 'int64') {
    throw new TypeError(`Expected an int64 Tensor of class indices for target but received dtype ${target.dtype} (class-probability targets are not supported)`);
  }
  if (x.ndim < 1) throw new RangeError(`Expected 1 or more dimensions (got ${x.ndim})`);
  let batch: number;
  let classes: number;
  let spatialShape: number[];
  if (x.ndim === 1) {
    if (target.ndim !== 0) {
      throw new RangeError(`Expected a 0-d target for a 1-D input (one sample of ${x.shape[0]} classes) but received target shape ${shapeText(target.shape)}`);
    }
    [batch, classes, spatialShape] = [1, x.shape[0], []];
  } else {
    [batch, classes, spatialShape] = [x.shape[0], x.shape[1], x.shape.slice(2)];
    if (target.ndim === 0) throw new RangeError(`Expected a target of shape ${shapeText([batch, ...spatialShape])} for input of shape ${shapeText(x.shape)} but received a 0-d target`);
    if (target.shape[0] !== batch) throw new RangeError(`Expected input batch_size (${batch}) to match target batch_size (${target.shape[0]}).`);
    if (x.ndim === 2 && target.ndim !== 1) throw new RangeError('0D or 1D target tensor expected, multi-target not supported');
    if (x.ndim > 2 && !sameShape(target.shape, [batch, ...spatialShape])) {
      throw new RangeError(`Expected target size ${shapeText([batch, ...spatialShape])}, got ${shapeText(target.shape)}`);
    }
  }
  const weight = optionalTensor('weight', opts.weight);
  if (weight && !(weight.ndim === 1 && weight.numel === classes)) {
    throw new RangeError(`weight tensor should be defined either for all ${classes} classes or no classes but got weight tensor of shape: ${shapeText(weight.shape)}`);
  }
  if (weight && needsGrad(weight) && isGradEnabled()) {
    throw new Error("the derivative for 'weight' is not implemented (crossEntropy treats the class weights as constants; pass weight.detach())");
  }
  const k = kernelsFor([['input', x], ['weight', weight]]);
  if (k) return crossEntropyOnDevice(k, x, target, weight, batch, classes, spatialShape, reduction, ignoreIndex);
  const xd = x.data;
  const wd = weight ? weight.data : null;
  const spatial = numel(spatialShape);
  const count = batch * spatial;
  const targets = countedTargets(target, count, classes, ignoreIndex);
  const logSumExp = new Float64Array(count);
  const losses = new Float64Array(count);
  let totalWeight = 0;
  for (let n = 0; n < batch; n++) {
    for (let s = 0; s < spatial; s++) {
      const e = n * spatial + s;
      const c = targets[e];
      if (c < 0) continue;
      const base = n * classes * spatial + s;
      let max = -Infinity;
      for (let k = 0; k < classes; k++) max = Math.max(max, xd[base + k * spatial]);
      if (max === -Infinity) max = 0;
      let sum = 0;
      for (let k = 0; k < classes; k++) sum += Math.exp(xd[base + k * spatial] - max);
      const lse = max + Math.log(sum);
      const w = wd ? wd[c] : 1;
      logSumExp[e] = lse;
      losses[e] = -w * (xd[base + c * spatial] - lse);
      totalWeight += w;
    }
  }
  const outShape = x.ndim === 1 ? [] : [batch, ...spatialShape];
  const { output, elementGrad } = reduceLosses(losses, outShape, reduction, totalWeight);
  record('CrossEntropy', output, [x], (g) => {
    // d loss_e / d x[n, k, s] = weight[t] (softmax(x)[k] - [k == t])
    const gx = new Float32Array(x.numel);
    for (let n = 0; n < batch; n++) {
      for (let s = 0; s < spatial; s++) {
        const e = n * spatial + s;
        const c = targets[e];
        if (c < 0) continue;
        const coef = elementGrad(g, e) * (wd ? wd[c] : 1);
        if (coef === 0) continue;
        const base = n * classes * spatial + s;
        for (let k = 0; k < classes; k++) {
          const at = base + k * spatial;
          gx[at] = coef * (Math.exp(xd[at] - logSumExp[e]) - (k === c ? 1 : 0));
        }
      }
    }
    return [gx];
  });
  return output;
}

/** Each element's class, or -1 where the target is ignoreIndex; PyTorch's error for a class out of range. */
function countedTargets(target: Tensor<'int64'>, count: number, classes: number, ignoreIndex: number): Int32Array {
  const td = target.data;
  const ignore = BigInt(ignoreIndex);
  const bigClasses = BigInt(classes);
  const targets = new Int32Array(count);
  for (let e = 0; e < count; e++) {
    const t = td[e];
    if (t === ignore) targets[e] = -1;
    else if (t < 0n || t >= bigClasses) throw new RangeError(`Target ${t} is out of bounds.`);
    else targets[e] = Number(t);
  }
  return targets;
}

/** Validates the targets on the host and lays out where each counted one's logit is, for the device path. */
function crossEntropyOnDevice(k: TensorKernels, x: Tensor<'float32'>, target: Tensor<'int64'>, weight: Tensor<'float32'> | null,
  batch: number, classes: number, spatialShape: number[], reduction: Reduction, ignoreIndex: number): Tensor<'float32'> {
  const spatial = numel(spatialShape);
  const targets = countedTargets(target, batch * spatial, classes, ignoreIndex);
  const positions: number[] = [];
  const elements: number[] = [];
  const classIds: number[] = [];
  for (let n = 0; n < batch; n++) {
    for (let s = 0; s < spatial; s++) {
      const e = n * spatial + s;
      const c = targets[e];
      if (c < 0) continue;
      positions.push((n * classes + c) * spatial + s);
      elements.push(e);
      classIds.push(c);
    }
  }
  const big = (values: number[]) => BigInt64Array.from(values, BigInt);
  return crossEntropyFromPlan(k, x, weight, {
    batch, classes, spatial, reduction,
    outShape: x.ndim === 1 ? [] : [batch, ...spatialShape],
    positions: big(positions), elements: big(elements), classIds: big(classIds),
  });
}

interface CrossEntropyPlan {
  batch: number;
  classes: number;
  spatial: number;
  outShape: number[];
  reduction: Reduction;
  /** Flat positions in the input of each counted (not ignored) element's target logit. */
  positions: BigInt64Array;
  /** Which output element each counted one is, and its class. */
  elements: BigInt64Array;
  classIds: BigInt64Array;
}

/**
 * -weight[t] logSoftmax(x)[t] per element: log-softmax over the classes, the counted elements' target entries
 * gathered, weighted, then reduced (mean divides by the summed weights of the counted targets); backward scatters
 * -dLoss/dElement × weight to the target entries and runs the log-softmax backward, giving weight[t] (softmax - onehot).
 */
function crossEntropyFromPlan(k: TensorKernels, x: F32, weight: F32 | null, p: CrossEntropyPlan): F32 {
  const { batch, classes, spatial, positions, elements, classIds, reduction } = p;
  const total = x.numel;
  const count = batch * spatial;
  const m = positions.length;
  const logp = alloc(k, 'crossEntropy log-probabilities', x.shape);
  k.softmax(logp, buf(x), batch, classes, spatial, true);
  const picked = alloc(k, 'crossEntropy picked', [m]);
  if (m > 0) k.indexSelect(picked, logp, 1, total, 1, positions);
  let w: Buf | null = null;
  let wSum: Buf | null = null;
  const losses = alloc(k, 'crossEntropy losses', [m]);
  if (weight) {
    w = alloc(k, 'crossEntropy weights', [m]);
    if (m > 0) k.indexSelect(w, buf(weight), 1, classes, 1, classIds);
    binaryInto(k, BINARY.mul, losses, picked, [1], w, [1], [m], -1);
    if (reduction === 'mean') {
      wSum = alloc(k, 'crossEntropy weight sum', []);
      k.sumMiddle(wSum, w, 1, m, 1, 1);
    }
  } else if (m > 0) k.unary(UNARY.neg, losses, picked);
  k.free(picked);
  let perElement = losses;
  if (reduction === 'none') {
    perElement = zeros(k, count);
    if (m > 0) k.indexAdd(perElement, losses, 1, count, 1, elements, -1);
    k.free(losses);
  }
  const output = reduceLossOnDevice(k, perElement, reduction === 'none' ? count : m, p.outShape, reduction, wSum ?? m);
  recordOn(k, output, 'CrossEntropyBackward', [x], (g) => {
    // coef = -dLoss/dElement × weight[t] for each counted element
    let coef: Buf;
    if (reduction === 'none') {
      const gathered = alloc(k, 'crossEntropy gradient', [m]);
      if (m > 0) k.indexSelect(gathered, g, 1, count, 1, elements);
      coef = gathered;
      if (!w) {
        coef = scaledCopy(k, gathered, m, -1);
        k.free(gathered);
      }
    } else coef = elementGradOnDevice(k, g, m, reduction, reduction === 'mean' && !w ? -1 / m : -1);
    if (w) {
      const weighted = alloc(k, 'crossEntropy gradient', [m]);
      binaryInto(k, BINARY.mul, weighted, coef, [1], w, [1], [m], reduction === 'none' ? -1 : 1);
      k.free(coef);
      coef = weighted;
      if (wSum) {
        const divided = alloc(k, 'crossEntropy gradient', [m]);
        binaryInto(k, BINARY.div, divided, coef, [1], wSum, [0], [m], 1);
        k.free(coef);
        coef = divided;
      }
    }
    const gLogp = zeros(k, total);
    if (m > 0) k.indexAdd(gLogp, coef, 1, total, 1, positions, -1);
    k.free(coef);
    const gx = alloc(k, 'crossEntropy gradient', x.shape);
    k.softmaxBackward(gx, gLogp, logp, batch, classes, spatial, true);
    k.free(gLogp);
    return [gx];
  }, true, [logp, w, wSum]);
  return output;
}
