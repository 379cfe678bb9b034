// torch.nn.functional, the part the layers and training loops need: linear, embedding, dropout, softmax,
// logSoftmax and the losses crossEntropy, mseLoss and bceWithLogits. On the CPU each is its own loop (float64
// accumulation, float32 results) and records its own graph node, so it depends on no general tensor ops. CUDA
// tensors, after the same checks, run on their device (./device-functional), backward included.
import { native } from '../binding';
import { checkBoolean, checkInteger, checkOneOf, checkOptions, describe, shapeText, sameShape } from '../checks';
import { isGradEnabled } from '../autograd/grad-mode';
import { kernelsFor } from '../autograd/device-kernels';
import * as dev from './device-functional';
import { needsGrad, recordNode } from '../autograd/node';
import { logSoftmax as logSoftmaxOp, softmax as softmaxOp } from '../autograd/ops';
import { checkTensorAllocation } from '../limits';
import { nextUniform } from '../random';
import { Tensor, checkTensor, normalizeDim } from '../tensor';

export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTIONS: readonly Reduction[] = ['none', 'mean', 'sum'];

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** An optional float32 tensor argument: undefined and null mean none. */
function optionalTensor(name: string, value: unknown): Tensor<'float32'> | null {
  return value === undefined || value === null ? null : checkTensor(name, value);
}

type BackwardFn = (grad: Float32Array, wanted: readonly boolean[]) => (Float32Array | null)[];

/**
 * Makes `output` the result of a new graph node over `inputs` (null entries and tensors that need no gradient get
 * none), when grad mode is on and some input needs a gradient. `backward` gets the output's gradient and which
 * inputs want theirs; what it captured is dropped once the engine has used it.
 */
function record(name: string, output: Tensor<'float32'>, inputs: (Tensor<'float32'> | null)[], backward: BackwardFn): void {
  recordNode(output, `${name}Backward`, inputs, backward);
}

function toFloat32(values: Float64Array): Float32Array {
  return Float32Array.from(values);
}

// ---------------------------------------------------------------------------------------------------------------
// linear

/** `y = x W^T + b` (torch.nn.functional.linear): input `[..., in]`, weight `[out, in]`, bias `[out]` -> `[..., out]`. */
export function linear(input: Tensor<'float32'>, weight: Tensor<'float32'>, bias?: Tensor<'float32'> | null): Tensor<'float32'> {
  const x = checkTensor('input', input);
  const w = checkTensor('weight', weight);
  const b = optionalTensor('bias', bias);
  if (x.ndim === 0) throw new RangeError(`both arguments to linear need to be at least 1D, but they are 0D and ${w.ndim}D`);
  if (w.ndim !== 2) throw new RangeError(`Expected weight of 2 dimensions [outFeatures, inFeatures] for linear but received shape ${shapeText(w.shape)}`);
  const [outF, inF] = w.shape;
  const inX = x.shape[x.ndim - 1];
  const rows = inX === 0 ? product(x.shape.slice(0, -1)) : x.numel / inX;
  if (inX !== inF) throw new RangeError(`mat1 and mat2 shapes cannot be multiplied (${rows}x${inX} and ${inF}x${outF})`);
  if (b && !(b.ndim === 1 && b.shape[0] === outF)) {
    throw new RangeError(`Expected bias of shape [${outF}] (outFeatures) for linear but received shape ${shapeText(b.shape)}`);
  }
  const k = kernelsFor([['input', x], ['weight', w], ['bias', b]]);
  if (k) return dev.linear(k, x, w, b, rows, [...x.shape.slice(0, -1), outF]);
  const xd = x.data;
  const wd = w.data;
  const bd = b ? b.data : null;
  // y = x W^T (+ b), dx = g W, dW = g^T x: OpenBLAS through the native sgemm
  checkTensorAllocation(`linear output of shape [${rows}, ${outF}]`, rows * outF);
  const out = new Float32Array(rows * outF);
  if (bd) for (let m = 0; m < rows; m++) out.set(bd, m * outF);
  native.sgemm(false, true, rows, outF, inF, 1, xd, inF, wd, inF, bd ? 1 : 0, out, outF);
  const y = new Tensor(out, [...x.shape.slice(0, -1), outF]);
  record('Linear', y, [x, w, b], (g, [wantX, wantW, wantB]) => {
    let gx: Float32Array | null = null;
    if (wantX) {
      gx = new Float32Array(rows * inF);
      native.sgemm(false, false, rows, inF, outF, 1, g, outF, wd, inF, 0, gx, inF);
    }
    let gw: Float32Array | null = null;
    if (wantW) {
      gw = new Float32Array(outF * inF);
      native.sgemm(true, false, outF, inF, rows, 1, g, outF, xd, inF, 0, gw, inF);
    }
    let gb: Float32Array | null = null;
    if (wantB) {
      const acc = new Float64Array(outF);
      for (let m = 0; m < rows; m++) for (let o = 0; o < outF; o++) acc[o] += g[m * outF + o];
      gb = toFloat32(acc);
    }
    return [gx, gw, gb];
  });
  return y;
}

// ---------------------------------------------------------------------------------------------------------------
// embedding

/**
 * Rows of `weight` `[numEmbeddings, dim]` at `indices` (int64, any shape) -> `[...indices.shape, dim]`
 * (torch.nn.functional.embedding). The gradient is scatter-added into the weight rows, except the `paddingIdx`
 * row (negative counts from the end), which gets none.
 */
export function embedding(indices: Tensor<'int64'>, weight: Tensor<'float32'>, paddingIdx?: number | null): Tensor<'float32'> {
  if (!(indices instanceof Tensor)) throw new TypeError(`Expected a Tensor for indices but received ${describe(indices)}`);
  if (indices.disposed) throw new Error('indices is a disposed Tensor; it can no longer be used');
  if (indices.dtype !== 'int64') {
    throw new TypeError(`Expected an int64 Tensor for indices but received dtype ${indices.dtype} (embedding looks rows up by integer index)`);
  }
  const w = checkTensor('weight', weight);
  if (w.ndim !== 2) throw new RangeError(`'weight' must be 2-D (received shape ${shapeText(w.shape)})`);
  const [num, dim] = w.shape;
  let padding = -1;
  if (paddingIdx !== undefined && paddingIdx !== null) {
    const p = checkInteger('paddingIdx', paddingIdx, { min: Number.MIN_SAFE_INTEGER });
    if (p < -num || p >= num) throw new RangeError(`Padding_idx must be within num_embeddings (paddingIdx ${p}, numEmbeddings ${num})`);
    padding = p < 0 ? p + num : p;
  }
  const idx = indices.data;
  const rows = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i];
    if (v < 0n || v >= BigInt(num)) throw new RangeError(`index out of range in self (index ${v} with numEmbeddings ${num})`);
    rows[i] = Number(v);
  }
  // the indices stay on the host (int64 tensors live there) whatever the weight's device
  const k = kernelsFor([['weight', w]]);
  if (k) return dev.embedding(k, w, BigInt64Array.from(rows, BigInt), padding, [...indices.shape, dim]);
  const wd = w.data;
  checkTensorAllocation(`embedding output of ${rows.length} rows of ${dim}`, rows.length * dim);
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(wd.subarray(r * dim, (r + 1) * dim), i * dim));
  const y = new Tensor(out, [...indices.shape, dim]);
  record('Embedding', y, [w], (g) => {
    const acc = new Float64Array(num * dim);
    rows.forEach((r, i) => {
      if (r === padding) return;
      const from = i * dim;
      const to = r * dim;
      for (let k = 0; k < dim; k++) acc[to + k] += g[from + k];
    });
    return [toFloat32(acc)];
  });
  return y;
}

// ---------------------------------------------------------------------------------------------------------------
// dropout

/**
 * torch.nn.functional.dropout: in training, each element is zeroed with probability `p` (masks from the seeded
 * generator, see `manualSeed`) and the survivors are scaled by 1/(1-p); backward applies the same mask. Not
 * training (or p = 0, or an empty input) returns `input` itself.
 */
export function dropout(input: Tensor<'float32'>, p = 0.5, training = true): Tensor<'float32'> {
  const x = checkTensor('input', input);
  if (typeof p !== 'number' || Number.isNaN(p)) throw new TypeError(`Expected number for p but received ${describe(p)}`);
  if (p < 0 || p > 1) throw new RangeError(`dropout probability has to be between 0 and 1, but got ${p}`);
  checkBoolean('training', training);
  if (!training || p === 0 || x.numel === 0) return x;
  const k = kernelsFor([['input', x]]);
  const n = x.numel;
  // PyTorch's CPU dropout: noise ~ Bernoulli(1-p) divided by (1-p) in float32, y = x * noise; p = 1 is x * 0
  const mask = new Float32Array(n);
  if (p < 1) {
    const keep = 1 - p;
    const scale = Math.fround(1 / Math.fround(keep));
    for (let i = 0; i < n; i++) mask[i] = nextUniform() < keep ? scale : 0;
  }
  // the mask is drawn on the host from the seeded generator on every device, so a seed gives the same masks
  if (k) return dev.dropout(k, x, mask);
  const xd = x.data;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = xd[i] * mask[i];
  const y = new Tensor(out, x.shape);
  record('Dropout', y, [x], (g) => {
    const gx = new Float32Array(n);
    for (let i = 0; i < n; i++) gx[i] = g[i] * mask[i];
    return [gx];
  });
  return y;
}

// ---------------------------------------------------------------------------------------------------------------
// softmax / logSoftmax

/** outer x size x inner blocks of `shape` around dimension `dim` (a 0-d tensor is one element along dim 0 or -1). */
function aroundDim(x: Tensor<'float32'>, dim: number, fn: string): { outer: number; size: number; inner: number } {
  if (typeof dim !== 'number') throw new TypeError(`Expected integer for dim but received ${describe(dim)} (${fn} needs the dimension to normalize over)`);
  if (x.ndim === 0) {
    checkInteger('dim', dim, { min: -1, max: 0 });
    return { outer: 1, size: 1, inner: 1 };
  }
  const d = normalizeDim(dim, x.ndim);
  return { outer: product(x.shape.slice(0, d)), size: x.shape[d], inner: product(x.shape.slice(d + 1)) };
}

// F.softmax / F.logSoftmax check their arguments with F's messages, then run the autograd op (lib/autograd/ops.ts).
function softmaxImpl(input: Tensor<'float32'>, dim: number, log: boolean): Tensor<'float32'> {
  const fn = log ? 'logSoftmax' : 'softmax';
  const x = checkTensor('input', input);
  aroundDim(x, dim, fn);
  return log ? logSoftmaxOp(x, dim) : softmaxOp(x, dim);
}

/** exp(x) / sum(exp(x)) along `dim` (negative counts from the end), computed stably (torch.softmax). */
export function softmax(input: Tensor<'float32'>, dim: number): Tensor<'float32'> {
  return softmaxImpl(input, dim, false);
}

/** x - log(sum(exp(x))) along `dim`, computed stably (torch.log_softmax). */
export function logSoftmax(input: Tensor<'float32'>, dim: number): Tensor<'float32'> {
  return softmaxImpl(input, dim, true);
}

// ---------------------------------------------------------------------------------------------------------------
// losses

function reductionOf(opts: Record<string, unknown>): Reduction {
  return opts.reduction === undefined ? 'mean' : checkOneOf('reduction', opts.reduction, REDUCTIONS);
}

/** The loss tensor of per-element `losses` (float64) under `reduction`, and dLoss/dElement from the output gradient. */
function reduce(losses: Float64Array, shape: readonly number[], reduction: Reduction, denominator = losses.length): {
  output: Tensor<'float32'>;
  elementGrad: (g: Float32Array, e: number) => number;
} {
  if (reduction === 'none') return { output: new Tensor(toFloat32(losses), shape), elementGrad: (g, e) => g[e] };
  let sum = 0;
  for (let e = 0; e < losses.length; e++) sum += losses[e];
  const scale = reduction === 'mean' ? 1 / denominator : 1;
  return { output: new Tensor(new Float32Array([sum * scale]), []), elementGrad: (g) => g[0] * scale };
}

/**
 * For each flat index of `to`, the flat index of `shape` broadcast to it (right-aligned, dims equal or 1);
 * null when the shapes are equal.
 */
function broadcastMap(name: string, shape: readonly number[], to: readonly number[]): Int32Array | null {
  if (sameShape(shape, to)) return null;
  const offset = to.length - shape.length;
  const ok = offset >= 0 && shape.every((d, i) => d === 1 || d === to[i + offset]);
  if (!ok) throw new RangeError(`Expected ${name} of a shape that broadcasts to the input's ${shapeText(to)} but received ${shapeText(shape)}`);
  const strides = new Array<number>(to.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i + offset] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  const n = product(to);
  const map = new Int32Array(n);
  const counter = new Array<number>(to.length).fill(0);
  let at = 0;
  for (let e = 0; e < n; e++) {
    map[e] = at;
    for (let d = to.length - 1; d >= 0; d--) {
      counter[d]++;
      at += strides[d];
      if (counter[d] < to[d]) break;
      at -= strides[d] * to[d];
      counter[d] = 0;
    }
  }
  return map;
}

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
  const td = target.data;
  const wd = weight ? weight.data : null;
  const spatial = product(spatialShape);
  const count = batch * spatial;
  const ignore = BigInt(ignoreIndex);
  const bigClasses = BigInt(classes);
  const targets = new Int32Array(count).fill(-1); // -1: ignored
  const logSumExp = new Float64Array(count);
  const losses = new Float64Array(count);
  let totalWeight = 0;
  for (let n = 0; n < batch; n++) {
    for (let s = 0; s < spatial; s++) {
      const e = n * spatial + s;
      const t = td[e];
      if (t === ignore) continue;
      if (t < 0n || t >= bigClasses) throw new RangeError(`Target ${t} is out of bounds.`);
      const c = Number(t);
      const base = n * classes * spatial + s;
      let max = -Infinity;
      for (let k = 0; k < classes; k++) max = Math.max(max, xd[base + k * spatial]);
      if (max === -Infinity) max = 0;
      let sum = 0;
      for (let k = 0; k < classes; k++) sum += Math.exp(xd[base + k * spatial] - max);
      const lse = max + Math.log(sum);
      const w = wd ? wd[c] : 1;
      targets[e] = c;
      logSumExp[e] = lse;
      losses[e] = -w * (xd[base + c * spatial] - lse);
      totalWeight += w;
    }
  }
  const outShape = x.ndim === 1 ? [] : [batch, ...spatialShape];
  const { output, elementGrad } = reduce(losses, outShape, reduction, totalWeight);
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

/** Validates the targets on the host and lays out where each counted one's logit is, for the device path. */
function crossEntropyOnDevice(k: NonNullable<ReturnType<typeof kernelsFor>>, x: Tensor<'float32'>, target: Tensor<'int64'>, weight: Tensor<'float32'> | null,
  batch: number, classes: number, spatialShape: number[], reduction: Reduction, ignoreIndex: number): Tensor<'float32'> {
  const td = target.data;
  const spatial = product(spatialShape);
  const ignore = BigInt(ignoreIndex);
  const bigClasses = BigInt(classes);
  const positions: number[] = [];
  const elements: number[] = [];
  const classIds: number[] = [];
  for (let n = 0; n < batch; n++) {
    for (let s = 0; s < spatial; s++) {
      const e = n * spatial + s;
      const t = td[e];
      if (t === ignore) continue;
      if (t < 0n || t >= bigClasses) throw new RangeError(`Target ${t} is out of bounds.`);
      const c = Number(t);
      positions.push((n * classes + c) * spatial + s);
      elements.push(e);
      classIds.push(c);
    }
  }
  const big = (values: number[]) => BigInt64Array.from(values, BigInt);
  return dev.crossEntropy(k, x, weight, {
    batch, classes, spatial, reduction,
    outShape: x.ndim === 1 ? [] : [batch, ...spatialShape],
    positions: big(positions), elements: big(elements), classIds: big(classIds),
  });
}

export interface MseLossOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
}

/** torch.nn.functional.mse_loss: (input - target)^2, input and target of the same shape; both get gradients. */
export function mseLoss(input: Tensor<'float32'>, target: Tensor<'float32'>, options?: MseLossOptions): Tensor<'float32'> {
  const opts = checkOptions('mseLoss options', options, ['reduction']);
  const reduction = reductionOf(opts);
  const x = checkTensor('input', input);
  const y = checkTensor('target', target);
  if (!sameShape(x.shape, y.shape)) {
    throw new RangeError(`Expected target of the input's shape ${shapeText(x.shape)} for mseLoss but received ${shapeText(y.shape)} (no broadcasting: PyTorch warns that a different target size is likely a mistake)`);
  }
  const k = kernelsFor([['input', x], ['target', y]]);
  if (k) return dev.mseLoss(k, x, y, reduction);
  const xd = x.data;
  const yd = y.data;
  const n = x.numel;
  const losses = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    const d = xd[e] - yd[e];
    losses[e] = d * d;
  }
  const { output, elementGrad } = reduce(losses, x.shape, reduction);
  record('MseLoss', output, [x, y], (g, [wantX, wantY]) => {
    const gx = new Float32Array(n);
    const gy = wantY ? new Float32Array(n) : null;
    for (let e = 0; e < n; e++) {
      const v = 2 * (xd[e] - yd[e]) * elementGrad(g, e);
      gx[e] = v;
      if (gy) gy[e] = -v;
    }
    return [wantX ? gx : null, gy];
  });
  return output;
}

export interface BceWithLogitsOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
  /** Weight of the positive term, broadcast to the input's shape (typically [C], one per class). */
  posWeight?: Tensor<'float32'>;
  /** Rescaling weight of each element's loss, broadcast to the input's shape. */
  weight?: Tensor<'float32'>;
}

/**
 * torch.nn.functional.binary_cross_entropy_with_logits: `-[pw y log σ(x) + (1 - y) log(1 - σ(x))]`, computed
 * stably as `(1 - y) x + (1 + (pw - 1) y) (max(-x, 0) + log(1 + exp(-|x|)))` (pw = 1: `max(x, 0) - x y +
 * log(1 + exp(-|x|))`), times `weight`. Input, target, posWeight and weight all get gradients, as in PyTorch.
 */
export function bceWithLogits(input: Tensor<'float32'>, target: Tensor<'float32'>, options?: BceWithLogitsOptions): Tensor<'float32'> {
  const opts = checkOptions('bceWithLogits options', options, ['reduction', 'posWeight', 'weight']);
  const reduction = reductionOf(opts);
  const x = checkTensor('input', input);
  const y = checkTensor('target', target);
  if (!sameShape(x.shape, y.shape)) throw new RangeError(`Target size (${shapeText(y.shape)}) must be the same as input size (${shapeText(x.shape)})`);
  const posWeight = optionalTensor('posWeight', opts.posWeight);
  const weight = optionalTensor('weight', opts.weight);
  const pwMap = posWeight ? broadcastMap('posWeight', posWeight.shape, x.shape) : null;
  const wMap = weight ? broadcastMap('weight', weight.shape, x.shape) : null;
  const k = kernelsFor([['input', x], ['target', y], ['posWeight', posWeight], ['weight', weight]]);
  if (k) return dev.bceWithLogits(k, x, y, posWeight, weight, reduction);
  const xd = x.data;
  const yd = y.data;
  const pwd = posWeight ? posWeight.data : null;
  const wd = weight ? weight.data : null;
  const n = x.numel;
  const pwAt = (e: number) => (pwd ? pwd[pwMap ? pwMap[e] : e] : 1);
  const wAt = (e: number) => (wd ? wd[wMap ? wMap[e] : e] : 1);
  // softplus(-x) = -log σ(x), stable for either sign
  const softplusNeg = (v: number) => Math.max(-v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  const losses = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    const v = xd[e];
    const t = yd[e];
    losses[e] = wAt(e) * ((1 - t) * v + (1 + (pwAt(e) - 1) * t) * softplusNeg(v));
  }
  const { output, elementGrad } = reduce(losses, x.shape, reduction);
  record('BinaryCrossEntropyWithLogits', output, [x, y, posWeight, weight], (g, [wantX, wantY, wantPw, wantW]) => {
    const gx = wantX ? new Float32Array(n) : null;
    const gy = wantY ? new Float32Array(n) : null;
    const gpw = wantPw ? new Float64Array(posWeight!.numel) : null;
    const gw = wantW ? new Float64Array(weight!.numel) : null;
    for (let e = 0; e < n; e++) {
      const c = elementGrad(g, e);
      if (c === 0) continue;
      const v = xd[e];
      const t = yd[e];
      const pw = pwAt(e);
      const w = wAt(e);
      const sp = softplusNeg(v);
      if (gx) {
        const sigmoidNeg = v >= 0 ? Math.exp(-v) / (1 + Math.exp(-v)) : 1 / (1 + Math.exp(v)); // σ(-x)
        gx[e] = c * w * (1 - t - (1 + (pw - 1) * t) * sigmoidNeg);
      }
      if (gy) gy[e] = c * w * (-v + (pw - 1) * sp);
      if (gpw) gpw[pwMap ? pwMap[e] : e] += c * w * t * sp;
      if (gw) gw[wMap ? wMap[e] : e] += c * ((1 - t) * v + (1 + (pw - 1) * t) * sp);
    }
    return [gx, gy, gpw && toFloat32(gpw), gw && toFloat32(gw)];
  });
  return output;
}
