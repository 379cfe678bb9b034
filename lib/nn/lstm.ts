// torch.nn.LSTM (gates i, f, g, o), with optional projections (projSize).
import { checkInteger } from '../checks';
import { Tensor } from '../tensor';
import { PackedSequence } from './packing';
import { RNNBase, RNNBaseOptions, checkLayerSize } from './rnn-base';

export interface LSTMOptions extends RNNBaseOptions {
  /** Project h to this size (0 = off; must be < hiddenSize). */
  projSize?: number;
}

export type LSTMState = [Tensor, Tensor];

export class LSTM extends RNNBase {
  constructor(options: LSTMOptions) {
    const projSize = options?.projSize === undefined ? 0 : checkInteger('projSize', options.projSize, { min: 0 });
    if (projSize > 0 && projSize >= checkLayerSize('hiddenSize', 'hidden_size', options.hiddenSize)) {
      throw new RangeError(`proj_size has to be smaller than hidden_size: expected projSize < hiddenSize (${options.hiddenSize}) but received ${projSize}`);
    }
    super('LSTM', 'LSTM', options, ['projSize'], projSize);
  }

  /** `[output, [hN, cN]]` for input `[T, B, inputSize]` (`[B, T, ...]` with batchFirst, `[T, inputSize]` unbatched). */
  forward(input: Tensor, hx?: LSTMState): [Tensor, LSTMState];
  forward(input: PackedSequence, hx?: LSTMState): [PackedSequence, LSTMState];
  forward(input: Tensor | PackedSequence, hx?: LSTMState): [Tensor | PackedSequence, LSTMState] {
    return this.run(this.prepare(input, hx, true)) as [Tensor | PackedSequence, LSTMState];
  }

  /** `forward` on the libuv thread pool; the event loop stays free while it runs. */
  forwardAsync(input: Tensor, hx?: LSTMState): Promise<[Tensor, LSTMState]>;
  forwardAsync(input: PackedSequence, hx?: LSTMState): Promise<[PackedSequence, LSTMState]>;
  async forwardAsync(input: Tensor | PackedSequence, hx?: LSTMState): Promise<[Tensor | PackedSequence, LSTMState]> {
    return (await this.runAsync(this.prepare(input, hx))) as [Tensor | PackedSequence, LSTMState];
  }
}
