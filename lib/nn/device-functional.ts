// torch.nn.functional on a device: linear, embedding, dropout and the losses composed from the device
// kernels (lib/autograd/device-kernels.ts), each recorded as one node named like its host twin in ./functional,
// whose backward stays on the device. ./functional validates every argument (target and index values included:
// they are int64 tensors, which live on the host) before calling these.
import { BINARY, Buf, TensorKernels, UNARY, filled } from '../autograd/device-kernels';
import {
  alloc, binaryInto, broadcastStrides, contiguous, numel, recordOn, scaledCopy, stridedCopy, sumToShape, wrap, zeros,
} from '../autograd/device-support';
import { Tensor } from '../tensor';

type F32 = Tensor<'float32'>;
export type Reduction = 'none' | 'mean' | 'sum';

const buf = (t: F32) => t.storage() as Buf;

/** y = x W^T + b over `rows` rows of x. */
export function linear(k: TensorKernels, x: F32, w: F32, b: F32 | null, rows: number, outShape: number[]): F32 {
  const [outF, inF] = w.shape;
  const out = alloc(k, 'linear output', [rows, outF]);
  if (b) k.stridedCopy(out, 0, [outF, 1], buf(b), 0, [0, 1], [rows, outF]);
  if (rows > 0 && outF > 0) {
    if (inF === 0) {
      if (!b) k.fill(out, 0);
    } else k.gemmBatched(false, true, rows, outF, inF, 1, buf(x), inF, 0, buf(w), inF, 0, b ? 1 : 0, out, outF, 0, 1);
  }
  const y = wrap(out, outShape);
  recordOn(k, y, 'LinearBackward', [x, w, b], (g, [wantX, wantW, wantB]) => {
    let gx: Buf | null = null;
    let gw: Buf | null = null;
    let gb: Buf | null = null;
    if (wantX) {
      gx = zeros(k, rows * inF);
      if (rows > 0 && inF > 0 && outF > 0) k.gemmBatched(false, false, rows, inF, outF, 1, g, outF, 0, buf(w), inF, 0, 0, gx, inF, 0, 1);
    }
    if (wantW) {
      gw = zeros(k, outF * inF);
      if (rows > 0 && inF > 0 && outF > 0) k.gemmBatched(true, false, outF, inF, rows, 1, g, outF, 0, buf(x), inF, 0, 0, gw, inF, 0, 1);
    }
    if (wantB) {
      gb = alloc(k, 'linear bias gradient', [outF]);
      k.sumMiddle(gb, g, 1, rows, outF, 1);
    }
    return [gx, gw, gb];
  });
  return y;
}

/** Rows of `weight` [num, dim] at the flat, validated `rows`; the `padding` row (-1: none) gets no gradient. */
export function embedding(k: TensorKernels, w: F32, rows: BigInt64Array, padding: number, outShape: number[]): F32 {
  const [num, dim] = w.shape;
  const out = alloc(k, 'embedding output', outShape);
  if (rows.length > 0 && dim > 0) k.indexSelect(out, buf(w), 1, num, dim, rows);
  const y = wrap(out, outShape);
  recordOn(k, y, 'EmbeddingBackward', [w], (g) => {
    const gw = zeros(k, num * dim);
    if (rows.length > 0 && dim > 0) k.indexAdd(gw, g, 1, num, dim, rows, padding);
    return [gw];
  });
  return y;
}

/** x times the host-drawn `mask` (already scaled by 1/(1-p)): the same masks as the CPU for the same seed. */
export function dropout(k: TensorKernels, x: F32, mask: Float32Array): F32 {
  const m = k.upload(mask);
  const n = x.numel;
  const out = alloc(k, 'dropout output', x.shape);
  binaryInto(k, BINARY.mul, out, buf(x), [1], m, [1], [n], 1);
  const y = wrap(out, x.shape);
  recordOn(k, y, 'DropoutBackward', [x], (g) => {
    const gx = alloc(k, 'dropout gradient', x.shape);
    binaryInto(k, BINARY.mul, gx, g, [1], m, [1], [n], 1);
    return [gx];
  }, true, [m]);
  return y;
}

/** The loss of `reduction` from per-element losses `losses` (n of them; shape `shape` for 'none'); takes `losses`. */
function reduceLoss(k: TensorKernels, losses: Buf, n: number, shape: readonly number[], reduction: Reduction, denominator: Buf | number): F32 {
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
function elementGrad(k: TensorKernels, g: Buf, n: number, reduction: Reduction, scale: number): Buf {
  const out = alloc(k, 'loss gradient', [n]);
  const s = filled(k, 1, scale);
  try {
    binaryInto(k, BINARY.mul, out, g, [reduction === 'none' ? 1 : 0], s, [0], [n], 1);
  } finally {
    k.free(s);
  }
  return out;
}

export interface CrossEntropyPlan {
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
export function crossEntropy(k: TensorKernels, x: F32, weight: F32 | null, p: CrossEntropyPlan): F32 {
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
  const output = reduceLoss(k, perElement, reduction === 'none' ? count : m, p.outShape, reduction, wSum ?? m);
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
    } else coef = elementGrad(k, g, m, reduction, reduction === 'mean' && !w ? -1 / m : -1);
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

/** (x - y)^2 per element, reduced; both get gradients (y's is the negation of x's). */
export function mseLoss(k: TensorKernels, x: F32, y: F32, reduction: Reduction): F32 {
  const n = x.numel;
  const d = alloc(k, 'mseLoss difference', x.shape);
  binaryInto(k, BINARY.add, d, buf(x), [1], buf(y), [1], [n], -1);
  const sq = alloc(k, 'mseLoss losses', x.shape);
  binaryInto(k, BINARY.mul, sq, d, [1], d, [1], [n], 1);
  const output = reduceLoss(k, sq, n, x.shape, reduction, n);
  recordOn(k, output, 'MseLossBackward', [x, y], (g, [wantX, wantY]) => {
    const scale = reduction === 'mean' ? 2 / n : 2;
    const gx = alloc(k, 'mseLoss gradient', x.shape);
    binaryInto(k, BINARY.mul, gx, d, [1], g, [reduction === 'none' ? 1 : 0], [n], scale);
    let gy: Buf | null = null;
    if (wantY) {
      gy = alloc(k, 'mseLoss gradient', x.shape);
      if (n > 0) k.unary(UNARY.neg, gy, gx);
    }
    if (!wantX) {
      k.free(gx);
      return [null, gy];
    }
    return [gx, gy];
  }, true, [d]);
  return output;
}

/** posWeight / weight as n contiguous elements: itself when already of the input's shape, else a broadcast copy. */
function expanded(k: TensorKernels, t: F32 | null, shape: readonly number[]): { buf: Buf | null; owned: boolean } {
  if (!t) return { buf: null, owned: false };
  if (t.numel === numel(shape)) return { buf: buf(t), owned: false };
  const out = alloc(k, 'a broadcast loss weight', shape);
  stridedCopy(k, out, 0, contiguous(shape), buf(t), 0, broadcastStrides(t.shape, shape), shape);
  return { buf: out, owned: true };
}

/** binary_cross_entropy_with_logits (see ./functional); input, target, posWeight and weight all get gradients. */
export function bceWithLogits(k: TensorKernels, x: F32, y: F32, posWeight: F32 | null, weight: F32 | null, reduction: Reduction): F32 {
  const n = x.numel;
  const pw = expanded(k, posWeight, x.shape);
  const w = expanded(k, weight, x.shape);
  const losses = alloc(k, 'bceWithLogits losses', x.shape);
  k.bceWithLogits(losses, buf(x), buf(y), pw.buf, w.buf);
  const output = reduceLoss(k, losses, n, x.shape, reduction, n);
  recordOn(k, output, 'BinaryCrossEntropyWithLogitsBackward', [x, y, posWeight, weight], (g, [wantX, wantY, wantPw, wantW]) => {
    const coef = elementGrad(k, g, n, reduction, reduction === 'mean' ? 1 / n : 1);
    const grad = (wanted: boolean) => (wanted ? alloc(k, 'bceWithLogits gradient', x.shape) : null);
    const [gx, gy, gpw, gw] = [grad(wantX), grad(wantY), grad(wantPw), grad(wantW)];
    k.bceWithLogitsBackward(coef, buf(x), buf(y), pw.buf, w.buf, gx, gy, gpw, gw);
    k.free(coef);
    return [gx, gy, gpw && sumToShape(k, gpw, x.shape, posWeight!.shape), gw && sumToShape(k, gw, x.shape, weight!.shape)];
  }, true, [pw.owned ? pw.buf : null, w.owned ? w.buf : null]);
  return output;
}
