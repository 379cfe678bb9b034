// torch.nn.Sequential: modules applied in order; their parameters are named '0.weight', '1.bias', ...
import { describe } from '../checks';
import { Module } from './module';

interface Forwardable extends Module {
  forward(input: never): unknown;
}

export class Sequential extends Module {
  [index: number]: Module;
  declare readonly length: number;

  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => {
      if (!(m instanceof Module) || typeof (m as Forwardable).forward !== 'function') {
        throw new TypeError(`Expected a Module with a forward method for modules[${i}] but received ${describe(m)}`);
      }
      this[i] = m;
    });
    Object.defineProperty(this, 'length', { value: modules.length, enumerable: false });
  }

  /** Feeds `input` through each module in turn (each must take the previous one's result). */
  forward<T = unknown>(input: unknown): T {
    let x = input;
    for (let i = 0; i < this.length; i++) x = (this[i] as Forwardable).forward(x as never);
    return x as T;
  }
}
