// torch.nn.Embedding: rows of weight [numEmbeddings, embeddingDim] ~ N(0, 1), the paddingIdx row zero.
import { checkInteger, checkOptions } from '../checks';
import { nextNormal } from '../random';
import { Tensor } from '../tensor';
import { embedding } from './functional';
import { Module } from './module';

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
  paddingIdx?: number;
}

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | undefined;
  readonly weight: Tensor;

  constructor(options: EmbeddingOptions) {
    super();
    if (options === undefined) throw new TypeError('Expected an options object with numEmbeddings and embeddingDim for Embedding but received undefined');
    const o = checkOptions('Embedding options', options, ['numEmbeddings', 'embeddingDim', 'paddingIdx']);
    this.numEmbeddings = checkInteger('numEmbeddings', o.numEmbeddings);
    this.embeddingDim = checkInteger('embeddingDim', o.embeddingDim);
    if (o.paddingIdx !== undefined) {
      // negative indices count from the end, as in PyTorch
      const p = checkInteger('paddingIdx', o.paddingIdx, { min: -this.numEmbeddings, max: this.numEmbeddings - 1 });
      this.paddingIdx = p < 0 ? p + this.numEmbeddings : p;
    }
    const data = Float32Array.from({ length: this.numEmbeddings * this.embeddingDim }, nextNormal);
    if (this.paddingIdx !== undefined) data.fill(0, this.paddingIdx * this.embeddingDim, (this.paddingIdx + 1) * this.embeddingDim);
    this.weight = new Tensor(data, [this.numEmbeddings, this.embeddingDim]);
    this.registerParameter('weight', this.weight);
  }

  forward(indices: Tensor<'int64'>): Tensor {
    return embedding(indices, this.weight, this.paddingIdx);
  }
}
