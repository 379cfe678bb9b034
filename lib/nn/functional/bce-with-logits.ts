// torch.nn.functional.binary_cross_entropy_with_logits, with posWeight and weight broadcast to the input: the host
// loop (a stable softplus) and the device branch (one fused kernel each way); input, target, posWeight and weight
// all get gradients, as in PyTorch.
import { checkOptions, sameShape, shapeText } from '../../checks';
import { Buf, TensorKernels, kernelsFor } from '../../autograd/device-kernels';
import { alloc, recordOn, stridedCopy, sumToShape } from '../../autograd/device-support';
import { broadcastMap, broadcastStrides, contiguous, numel } from '../../shape';
import { Tensor, checkTensor } from '../../tensor';
import { F32, Reduction, buf, elementGradOnDevice, optionalTensor, record, reduceLossOnDevice, reduceLosses, reductionOf, toFloat32 } from './common';

/**
 * For each flat index of the input's shape `to`, the flat index of `shape` (posWeight's or weight's) broadcast to
 * it (right-aligned, dims equal or 1); null when the shapes are equal.
 */
function weightMap(name: string, shape: readonly number[], to: readonly number[]): Int32Array | null {
  if (sameShape(shape, to)) return null;
  const offset = to.length - shape.length;
  const ok = offset >= 0 && shape.every((d, i) => d === 1 || d === to[i + offset]);
  if (!ok) throw new RangeError(`Expected ${name} of a shape that broadcasts to the input's ${shapeText(to)} but received ${shapeText(shape)}`);
  return broadcastMap(shape, to);
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
  const pwMap = posWeight ? weightMap('posWeight', posWeight.shape, x.shape) : null;
  const wMap = weight ? weightMap('weight', weight.shape, x.shape) : null;
  const k = kernelsFor([['input', x], ['target', y], ['posWeight', posWeight], ['weight', weight]]);
  if (k) return bceWithLogitsOnDevice(k, x, y, posWeight, weight, reduction);
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
  const { output, elementGrad } = reduceLosses(losses, x.shape, reduction);
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

/** posWeight / weight as n contiguous elements: itself when already of the input's shape, else a broadcast copy. */
function expanded(k: TensorKernels, t: F32 | null, shape: readonly number[]): { buf: Buf | null; owned: boolean } {
  if (!t) return { buf: null, owned: false };
  if (t.numel === numel(shape)) return { buf: buf(t), owned: false };
  const out = alloc(k, 'a broadcast loss weight', shape);
  stridedCopy(k, out, 0, contiguous(shape), buf(t), 0, broadcastStrides(t.shape, shape), shape);
  return { buf: out, owned: true };
}

/** The device branch of bceWithLogits; input, target, posWeight and weight all get gradients. */
function bceWithLogitsOnDevice(k: TensorKernels, x: F32, y: F32, posWeight: F32 | null, weight: F32 | null, reduction: Reduction): F32 {
  const n = x.numel;
  const pw = expanded(k, posWeight, x.shape);
  const w = expanded(k, weight, x.shape);
  const losses = alloc(k, 'bceWithLogits losses', x.shape);
  k.bceWithLogits(losses, buf(x), buf(y), pw.buf, w.buf);
  const output = reduceLossOnDevice(k, losses, n, x.shape, reduction, n);
  recordOn(k, output, 'BinaryCrossEntropyWithLogitsBackward', [x, y, posWeight, weight], (g, [wantX, wantY, wantPw, wantW]) => {
    const coef = elementGradOnDevice(k, g, n, reduction, reduction === 'mean' ? 1 / n : 1);
    const grad = (wanted: boolean) => (wanted ? alloc(k, 'bceWithLogits gradient', x.shape) : null);
    const [gx, gy, gpw, gw] = [grad(wantX), grad(wantY), grad(wantPw), grad(wantW)];
    k.bceWithLogitsBackward(coef, buf(x), buf(y), pw.buf, w.buf, gx, gy, gpw, gw);
    k.free(coef);
    return [gx, gy, gpw && sumToShape(k, gpw, x.shape, posWeight!.shape), gw && sumToShape(k, gw, x.shape, weight!.shape)];
  }, true, [pw.owned ? pw.buf : null, w.owned ? w.buf : null]);
  return output;
}
