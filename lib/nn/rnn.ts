// torch.nn.RNN: Elman RNN with tanh or relu.
import { AnyTensor, FloatDType, Tensor } from '../tensor';
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

  /**
   * `[output, hN]` for input `[T, B, inputSize]` (`[B, T, ...]` with batchFirst, `[T, inputSize]` unbatched).
   * A half-precision input (module converted with `.to('cuda', 'bfloat16')`, ...) gives results of its dtype.
   */
  forward<D extends FloatDType = 'float32'>(input: Tensor<D>, hx?: Tensor<D>): [Tensor<D>, Tensor<D>];
  forward<D extends FloatDType = 'float32'>(input: PackedSequence<D>, hx?: Tensor<D>): [PackedSequence<D>, Tensor<D>];
  forward(input: AnyTensor | PackedSequence<FloatDType>, hx?: AnyTensor): [AnyTensor | PackedSequence<FloatDType>, AnyTensor] {
    return this.run(this.prepare(input, hx, true)) as [Tensor | PackedSequence, Tensor];
  }

  /** `forward` on the libuv thread pool; the event loop stays free while it runs. */
  forwardAsync<D extends FloatDType = 'float32'>(input: Tensor<D>, hx?: Tensor<D>): Promise<[Tensor<D>, Tensor<D>]>;
  forwardAsync<D extends FloatDType = 'float32'>(input: PackedSequence<D>, hx?: Tensor<D>): Promise<[PackedSequence<D>, Tensor<D>]>;
  async forwardAsync(input: AnyTensor | PackedSequence<FloatDType>, hx?: AnyTensor): Promise<[AnyTensor | PackedSequence<FloatDType>, AnyTensor]> {
    return (await this.runAsync(this.prepare(input, hx))) as [Tensor | PackedSequence, Tensor];
  }
}
