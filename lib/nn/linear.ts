// torch.nn.Linear: y = x W^T + b, weight [outFeatures, inFeatures] and bias uniform(-1/sqrt(in), 1/sqrt(in)).
import { checkBoolean, checkInteger, checkOptions } from '../checks';
import { nextUniform } from '../random';
import { Tensor } from '../tensor';
import { linear } from './functional';
import { Module } from './module';
import { quantizedState } from '../quantization/state';
import { quantizedLinear } from '../quantization/linear';

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  bias?: boolean;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(options: LinearOptions) {
    super();
    if (options === undefined) throw new TypeError('Expected an options object with inFeatures and outFeatures for Linear but received undefined');
    const o = checkOptions('Linear options', options, ['inFeatures', 'outFeatures', 'bias']);
    this.inFeatures = checkInteger('inFeatures', o.inFeatures);
    this.outFeatures = checkInteger('outFeatures', o.outFeatures);
    const withBias = o.bias === undefined ? true : checkBoolean('bias', o.bias);
    // kaiming_uniform_(a=sqrt(5)) on [out, in] is uniform(-1/sqrt(in), 1/sqrt(in)); the bias uses the same bound
    const bound = 1 / Math.sqrt(this.inFeatures);
    const draw = (n: number) => Float32Array.from({ length: n }, () => (2 * nextUniform() - 1) * bound);
    this.weight = new Tensor(draw(this.outFeatures * this.inFeatures), [this.outFeatures, this.inFeatures]);
    this.registerParameter('weight', this.weight);
    this.bias = withBias ? new Tensor(draw(this.outFeatures), [this.outFeatures]) : null;
    if (this.bias) this.registerParameter('bias', this.bias);
  }

  /** y = x W^T + b; a Linear made by quantizeDynamic computes it with its int8 weight (x quantized per row). */
  forward(input: Tensor): Tensor {
    const state = quantizedState(this);
    if (state) return quantizedLinear(this.constructor.name, state, input);
    return linear(input, this.weight, this.bias ?? undefined);
  }
}
