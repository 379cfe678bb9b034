// torch.nn.functional.linear: y = x W^T + b, on the host through the native sgemm (OpenBLAS), on a device through
// the batched GEMM kernel; both backwards beside their forwards.
import { native } from '../../binding';
import { shapeText } from '../../checks';
import { Buf, TensorKernels, kernelsFor } from '../../autograd/device-kernels';
import { alloc, recordOn, wrap, zeros } from '../../autograd/device-support';
import { checkTensorAllocation } from '../../limits';
import { numel } from '../../shape';
import { Tensor, checkTensor } from '../../tensor';
import { F32, buf, optionalTensor, record, toFloat32 } from './common';

/** `y = x W^T + b` (torch.nn.functional.linear): input `[..., in]`, weight `[out, in]`, bias `[out]` -> `[..., out]`. */
export function linear(input: Tensor<'float32'>, weight: Tensor<'float32'>, bias?: Tensor<'float32'> | null): Tensor<'float32'> {
  const x = checkTensor('input', input);
  const w = checkTensor('weight', weight);
  const b = optionalTensor('bias', bias);
  if (x.ndim === 0) throw new RangeError(`both arguments to linear need to be at least 1D, but they are 0D and ${w.ndim}D`);
  if (w.ndim !== 2) throw new RangeError(`Expected weight of 2 dimensions [outFeatures, inFeatures] for linear but received shape ${shapeText(w.shape)}`);
  const [outF, inF] = w.shape;
  const inX = x.shape[x.ndim - 1];
  const rows = inX === 0 ? numel(x.shape.slice(0, -1)) : x.numel / inX;
  if (inX !== inF) throw new RangeError(`mat1 and mat2 shapes cannot be multiplied (${rows}x${inX} and ${inF}x${outF})`);
  if (b && !(b.ndim === 1 && b.shape[0] === outF)) {
    throw new RangeError(`Expected bias of shape [${outF}] (outFeatures) for linear but received shape ${shapeText(b.shape)}`);
  }
  const k = kernelsFor([['input', x], ['weight', w], ['bias', b]]);
  if (k) return linearOnDevice(k, x, w, b, rows, [...x.shape.slice(0, -1), outF]);
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

/** y = x W^T + b over `rows` rows of x. */
function linearOnDevice(k: TensorKernels, x: F32, w: F32, b: F32 | null, rows: number, outShape: number[]): F32 {
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
