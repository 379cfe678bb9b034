// torch.nn.RNN: Elman RNN with tanh or relu.
import { Tensor } from '../tensor';
import { PackedSequence } from './packing';
import { RNNBase, RNNBaseOptions, checkNonlinearity } from './rnn-base';

export interface RNNOptions extends RNNBaseOptions {
  nonlinearity?: 'tanh' | 'relu';
}

export class RNN extends RNNBase {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(options: RNNOptions) {
    const nonlinearity = checkNonlinearity(options?.nonlinearity);
    super(nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', 'RNN', options, ['nonlinearity']);
    this.nonlinearity = nonlinearity;
  }

  /** `[output, hN]` for input `[T, B, inputSize]` (`[B, T, ...]` with batchFirst, `[T, inputSize]` unbatched). */
  forward(input: Tensor, hx?: Tensor): [Tensor, Tensor];
  forward(input: PackedSequence, hx?: Tensor): [PackedSequence, Tensor];
  forward(input: Tensor | PackedSequence, hx?: Tensor): [Tensor | PackedSequence, Tensor] {
    return this.run(this.prepare(input, hx, true)) as [Tensor | PackedSequence, Tensor];
  }

  /** `forward` on the libuv thread pool; the event loop stays free while it runs. */
  forwardAsync(input: Tensor, hx?: Tensor): Promise<[Tensor, Tensor]>;
  forwardAsync(input: PackedSequence, hx?: Tensor): Promise<[PackedSequence, Tensor]>;
  async forwardAsync(input: Tensor | PackedSequence, hx?: Tensor): Promise<[Tensor | PackedSequence, Tensor]> {
    return (await this.runAsync(this.prepare(input, hx))) as [Tensor | PackedSequence, Tensor];
  }
}
