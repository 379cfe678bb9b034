// torch.nn.GRUCell (gates r, z, n).
import { FloatDType, Tensor } from '../tensor';
import { CellBase, CellBaseOptions } from './cell-base';

export type GRUCellOptions = CellBaseOptions;

export class GRUCell extends CellBase {
  constructor(options: GRUCellOptions) {
    super('GRU', 'GRUCell', options, []);
  }

  /**
   * h' for input `[B, inputSize]` (or `[inputSize]`) and h `[B, hiddenSize]` (zeros when omitted),
   * of the input's dtype (float16/bfloat16 for a module converted on CUDA; bfloat16 on the CPU, which also takes float32).
   */
  forward<D extends FloatDType = 'float32'>(input: Tensor<D>, hx?: Tensor<D>): Tensor<D> {
    return this.runStep(this.prepareStep(input, hx, true));
  }

  /** `forward` on the libuv thread pool; bad arguments reject the Promise. */
  async forwardAsync<D extends FloatDType = 'float32'>(input: Tensor<D>, hx?: Tensor<D>): Promise<Tensor<D>> {
    return this.runStepAsync(this.prepareStep(input, hx));
  }
}
