// Module base: parameters under PyTorch's names, state dicts, train/eval.
import { checkBoolean, checkOptions, describe } from '../checks';
import { AnyTensor, Tensor, isTensor } from '../tensor';

export interface LoadStateDictOptions {
  /** Require the dict's keys to match the module's parameters exactly (default true). */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export abstract class Module {
  #parameters = new Map<string, Tensor<'float32'>>();
  #training = true;
  #inFlight = 0;

  /** True in training mode (the default), false after `eval()`. */
  get training(): boolean {
    return this.#training;
  }

  protected registerParameter(name: string, value: Tensor<'float32'>): void {
    this.#parameters.set(name, value);
  }

  protected parameter(name: string): Tensor<'float32'> {
    const p = this.#parameters.get(name);
    if (p === undefined) throw new Error(`${this.constructor.name} has no parameter ${name}`);
    return p;
  }

  /** `[name, tensor]` pairs in PyTorch's registration order; the tensors are the module's own (not copies). */
  namedParameters(): [string, Tensor<'float32'>][] {
    return [...this.#parameters.entries()];
  }

  parameters(): Tensor<'float32'>[] {
    return [...this.#parameters.values()];
  }

  /** The parameters by name, sharing the module's memory like PyTorch's `state_dict()`. */
  stateDict(): Record<string, Tensor<'float32'>> {
    return Object.fromEntries(this.#parameters);
  }

  /**
   * Copies values into the module's parameters. Every problem (missing or unexpected keys under `strict`,
   * shape or dtype mismatches) is reported at once, and on any error the module is left unchanged.
   */
  loadStateDict(dict: Record<string, AnyTensor>, options?: LoadStateDictOptions): LoadStateDictResult {
    const opts = checkOptions('loadStateDict options', options, ['strict']);
    const strict = opts.strict === undefined ? true : checkBoolean('strict', opts.strict);
    if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) {
      throw new TypeError(`Expected an object of Tensors for stateDict but received ${describe(dict)}`);
    }
    if (this.#inFlight > 0) {
      throw new Error(`Cannot load a state dict into ${this.constructor.name} while ${this.#inFlight} forwardAsync call(s) are running; await them first`);
    }
    const missingKeys = [...this.#parameters.keys()].filter((k) => !(k in dict));
    const unexpectedKeys = Object.keys(dict).filter((k) => !this.#parameters.has(k));
    const errors: string[] = [];
    if (strict && missingKeys.length > 0) errors.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
    if (strict && unexpectedKeys.length > 0) errors.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    const updates: [Tensor<'float32'>, Float32Array][] = [];
    for (const [name, param] of this.#parameters) {
      if (!(name in dict)) continue;
      const value = dict[name];
      if (!isTensor(value)) {
        errors.push(`Expected a Tensor for ${name} but received ${describe(value)}.`);
      } else if (value.disposed) {
        errors.push(`${name} is a disposed Tensor.`);
      } else if (value.dtype !== 'float32') {
        errors.push(`dtype mismatch for ${name}: copying a param of dtype ${value.dtype} from checkpoint, the dtype in current model is float32.`);
      } else if (shapeText(value.shape) !== shapeText(param.shape)) {
        errors.push(`size mismatch for ${name}: copying a param with shape ${shapeText(value.shape)} from checkpoint, the shape in current model is ${shapeText(param.shape)}.`);
      } else {
        updates.push([param, value.data as Float32Array]);
      }
    }
    if (errors.length > 0) {
      throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join('\n\t')}`);
    }
    for (const [param, source] of updates) param.data.set(source);
    return { missingKeys, unexpectedKeys };
  }

  /** Training mode on (default) or off; returns the module, like PyTorch. */
  train(mode = true): this {
    this.#training = checkBoolean('mode', mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Runs `work` counted as an in-flight async call, so weight loads cannot tear it. */
  protected async track<T>(work: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
    }
  }
}
