// torch.nn.functional.softmax and logSoftmax: the arguments checked with F's messages, then the autograd ops
// (lib/autograd/ops/reduce.ts: host loop and device branch).
import { checkInteger, describe } from '../../checks';
import { logSoftmax as logSoftmaxOp, softmax as softmaxOp } from '../../autograd/ops/index';
import { Tensor, checkTensor, normalizeDim } from '../../tensor';

/** `dim` of `x` (a 0-d tensor takes 0 or -1), with F's messages. */
function checkDim(x: Tensor<'float32'>, dim: number, fn: string): void {
  if (typeof dim !== 'number') throw new TypeError(`Expected integer for dim but received ${describe(dim)} (${fn} needs the dimension to normalize over)`);
  if (x.ndim === 0) checkInteger('dim', dim, { min: -1, max: 0 });
  else normalizeDim(dim, x.ndim);
}

function softmaxImpl(input: Tensor<'float32'>, dim: number, log: boolean): Tensor<'float32'> {
  const fn = log ? 'logSoftmax' : 'softmax';
  const x = checkTensor('input', input);
  checkDim(x, dim, fn);
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
