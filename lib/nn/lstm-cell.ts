// torch.nn.LSTMCell (gates i, f, g, o).
import { Tensor } from '../tensor';
import { CellBase, CellBaseOptions } from './cell-base';

export type LSTMCellOptions = CellBaseOptions;

export class LSTMCell extends CellBase {
  constructor(options: LSTMCellOptions) {
    super('LSTM', 'LSTMCell', options, []);
  }

  /** [h', c'] for input `[B, inputSize]` (or `[inputSize]`) and [h, c] `[B, hiddenSize]` (zeros when omitted). */
  forward(input: Tensor, hx?: [Tensor, Tensor]): [Tensor, Tensor] {
    return this.runStep(this.prepareStep(input, hx, true));
  }

  /** `forward` on the libuv thread pool; bad arguments reject the Promise. */
  async forwardAsync(input: Tensor, hx?: [Tensor, Tensor]): Promise<[Tensor, Tensor]> {
    return this.runStepAsync(this.prepareStep(input, hx));
  }
}
