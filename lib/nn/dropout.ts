// torch.nn.Dropout: zeroes elements with probability p in training mode and scales the rest by 1/(1-p).
import { checkNumberInRange, checkOptions } from '../checks';
import { Tensor } from '../tensor';
import { dropout } from './functional';
import { Module } from './module';

export class Dropout extends Module {
  readonly p: number;

  constructor(options: { p?: number } = {}) {
    super();
    const o = checkOptions('Dropout options', options, ['p']);
    this.p = o.p === undefined ? 0.5 : checkNumberInRange('p', o.p, 0, 1);
  }

  forward(input: Tensor): Tensor {
    return dropout(input, this.p, this.training);
  }
}
