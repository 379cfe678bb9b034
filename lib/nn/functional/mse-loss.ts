// torch.nn.functional.mse_loss: (input - target)^2 per element, reduced; input and target both get gradients.
// Host loop and device branch side by side.
import { checkOptions, sameShape, shapeText } from '../../checks';
import { BINARY, Buf, TensorKernels, UNARY, kernelsFor } from '../../autograd/device-kernels';
import { alloc, binaryInto, recordOn } from '../../autograd/device-support';
import { Tensor, checkTensor } from '../../tensor';
import { F32, Reduction, buf, record, reduceLossOnDevice, reduceLosses, reductionOf } from './common';

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
  if (k) return mseLossOnDevice(k, x, y, reduction);
  const xd = x.data;
  const yd = y.data;
  const n = x.numel;
  const losses = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    const d = xd[e] - yd[e];
    losses[e] = d * d;
  }
  const { output, elementGrad } = reduceLosses(losses, x.shape, reduction);
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

/** (x - y)^2 per element, reduced; both get gradients (y's is the negation of x's). */
function mseLossOnDevice(k: TensorKernels, x: F32, y: F32, reduction: Reduction): F32 {
  const n = x.numel;
  const d = alloc(k, 'mseLoss difference', x.shape);
  binaryInto(k, BINARY.add, d, buf(x), [1], buf(y), [1], [n], -1);
  const sq = alloc(k, 'mseLoss losses', x.shape);
  binaryInto(k, BINARY.mul, sq, d, [1], d, [1], [n], 1);
  const output = reduceLossOnDevice(k, sq, n, x.shape, reduction, n);
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
