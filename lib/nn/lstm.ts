// torch.nn.LSTM (gates i, f, g, o), with optional projections (projSize).
import { checkInteger } from '../checks';
import { AnyTensor, FloatDType, Tensor } from '../tensor';
import { PackedSequence } from './packing';
import { RNNBase, RNNBaseOptions, checkLayerSize } from './rnn-base';

export interface LSTMOptions extends RNNBaseOptions {
  /** Project h to this size (0 = off; must be < hiddenSize). */
  projSize?: number;
}

/** `[h, c]`, of the input's dtype (float32, or the module's float16/bfloat16 on CUDA, bfloat16 on the CPU). */
export type LSTMState<D extends FloatDType = 'float32'> = [Tensor<D>, Tensor<D>];

export class LSTM extends RNNBase {
  constructor(options: LSTMOptions) {
    const projSize = options?.projSize === undefined ? 0 : checkInteger('projSize', options.projSize, { min: 0 });
    if (projSize > 0 && projSize >= checkLayerSize('hiddenSize', 'hidden_size', options.hiddenSize)) {
      throw new RangeError(`proj_size has to be smaller than hidden_size: expected projSize < hiddenSize (${options.hiddenSize}) but received ${projSize}`);
    }
    super('LSTM', 'LSTM', options, ['projSize'], projSize);
  }

  /**
   * `[output, [hN, cN]]` for input `[T, B, inputSize]` (`[B, T, ...]` with batchFirst, `[T, inputSize]` unbatched).
   * A half-precision input (module converted with `.to('cuda', 'bfloat16')`, ...) gives results of its dtype.
   */
  forward<D extends FloatDType = 'float32'>(input: Tensor<D>, hx?: LSTMState<D>): [Tensor<D>, LSTMState<D>];
  forward<D extends FloatDType = 'float32'>(input: PackedSequence<D>, hx?: LSTMState<D>): [PackedSequence<D>, LSTMState<D>];
  forward(input: AnyTensor | PackedSequence<FloatDType>, hx?: LSTMState<FloatDType>): [AnyTensor | PackedSequence<FloatDType>, LSTMState<FloatDType>] {
    return this.run(this.prepare(input, hx, true)) as [Tensor | PackedSequence, LSTMState];
  }

  /** `forward` on the libuv thread pool; the event loop stays free while it runs. */
  forwardAsync<D extends FloatDType = 'float32'>(input: Tensor<D>, hx?: LSTMState<D>): Promise<[Tensor<D>, LSTMState<D>]>;
  forwardAsync<D extends FloatDType = 'float32'>(input: PackedSequence<D>, hx?: LSTMState<D>): Promise<[PackedSequence<D>, LSTMState<D>]>;
  async forwardAsync(input: AnyTensor | PackedSequence<FloatDType>, hx?: LSTMState<FloatDType>): Promise<[AnyTensor | PackedSequence<FloatDType>, LSTMState<FloatDType>]> {
    return (await this.runAsync(this.prepare(input, hx))) as [Tensor | PackedSequence, LSTMState];
  }
}
