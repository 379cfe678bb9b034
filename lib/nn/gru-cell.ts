// torch.nn.GRUCell (gates r, z, n).
import { Tensor } from '../tensor';
import { CellBase, CellBaseOptions } from './cell-base';

export type GRUCellOptions = CellBaseOptions;

export class GRUCell extends CellBase {
  constructor(options: GRUCellOptions) {
    super('GRU', 'GRUCell', options, []);
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
