// torch.nn.GRU (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
import { Tensor } from '../tensor';
import { PackedSequence } from './packing';
import { RNNBase, RNNBaseOptions } from './rnn-base';

export type GRUOptions = RNNBaseOptions;

export class GRU extends RNNBase {
  constructor(options: GRUOptions) {
    super('GRU', 'GRU', options, []);
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
