// torch.nn.RNNCell: h' = act(W_ih x + b_ih + W_hh h + b_hh).
import { Tensor } from '../tensor';
import { CellBase, CellBaseOptions } from './cell-base';
import { checkNonlinearity } from './rnn-base';

export interface RNNCellOptions extends CellBaseOptions {
  nonlinearity?: 'tanh' | 'relu';
}

export class RNNCell extends CellBase {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(options: RNNCellOptions) {
    const nonlinearity = checkNonlinearity(options?.nonlinearity);
    super(nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', 'RNNCell', options, ['nonlinearity']);
    this.nonlinearity = nonlinearity;
  }

  /** h' for input `[B, inputSize]` (or `[inputSize]`) and h `[B, hiddenSize]` (zeros when omitted). */
  forward(input: Tensor, hx?: Tensor): Tensor {
    return this.runStep(this.prepareStep(input, hx, true));
  }

  /** `forward` on the libuv thread pool; bad arguments reject the Promise. */
  async forwardAsync(input: Tensor, hx?: Tensor): Promise<Tensor> {
    return this.runStepAsync(this.prepareStep(input, hx));
  }
}
