// The forward of a Linear quantized by quantizeDynamic: x quantized per row on the fly, int8 GEMM, float32 out.
import { native } from '../binding';
import { shapeText } from '../checks';
import { checkTensorAllocation } from '../limits';
import { Tensor, checkTensor } from '../tensor';
import { dequantize } from './int8';
import { refuseRecording } from './refuse';
import { QuantizedMatrix, QuantizedState, quantizedState } from './state';

function parts(state: QuantizedState): { weight: QuantizedMatrix; bias: Float32Array | null } {
  let weight: QuantizedMatrix | null = null;
  let bias: Float32Array | null = null;
  for (const e of state.entries) {
    if ('matrix' in e) weight = e.matrix;
    else bias = e.bias.values;
  }
  return { weight: weight!, bias };
}

/** y = x W^T + b for a quantized Linear (called `moduleName` in errors); x [..., inFeatures] float32 on the CPU. */
export function quantizedLinear(moduleName: string, state: QuantizedState, input: unknown): Tensor {
  const { weight, bias } = parts(state);
  const x = checkTensor('input', input);
  if (x.device !== 'cpu') throw new Error(`Expected all tensors to be on the same device, but found at least two devices, cpu and ${x.device}! (input is on ${x.device}; an int8 Linear runs on the CPU)`);
  if (x.ndim === 0) throw new RangeError('both arguments to linear need to be at least 1D, but they are 0D and 2D');
  const inF = weight.k, outF = weight.n;
  const inX = x.shape[x.ndim - 1];
  const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (inX !== inF) throw new RangeError(`mat1 and mat2 shapes cannot be multiplied (${rows}x${inX} and ${inF}x${outF})`);
  refuseRecording(moduleName, [x]);
  checkTensorAllocation(`linear output of shape ${shapeText([...x.shape.slice(0, -1), outF])}`, rows * outF);
  const out = new Float32Array(rows * outF);
  native.int8Linear(weight.packed, bias, x.data, rows, inF, outF, out);
  return new Tensor(out, [...x.shape.slice(0, -1), outF]);
}

/**
 * A quantized Linear's `weight` reads as its dequantized values (int8 values x row scales, a new float32 tensor
 * made on access, not requiring grad) and its `bias` as its float32 bias (sharing the quantized state's memory).
 */
export function linearFields(linear: object): void {
  const { weight, bias } = parts(quantizedState(linear)!);
  Object.defineProperty(linear, 'weight', {
    get: () => new Tensor(dequantize(weight), [weight.n, weight.k]), enumerable: false, configurable: true,
  });
  Object.defineProperty(linear, 'bias', { value: bias ? new Tensor(bias, [bias.length]) : null, enumerable: true, configurable: true });
}
