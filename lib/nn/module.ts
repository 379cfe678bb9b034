// Module base: parameters under PyTorch's names, state dicts, train/eval, devices and dtypes.
import { FloatStorage } from '../binding';
import { checkBoolean, checkOptions, describe, shapeText } from '../checks';
import { Device, DeviceLike, convertStorage, copyInto, freeStorage, requireCudaDevice, cudaIndex } from '../cuda';
import { FloatDType } from '../half';
import { AnyTensor, Tensor, ToOptions, isTensor, parseToArgs } from '../tensor';
import { quantizedRefusal, quantizedState } from '../quantization/state';
import { preparedRefusal, preparedState } from '../inference/state';

export interface LoadStateDictOptions {
  /** Require the dict's keys to match the module's parameters exactly (default true). */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Base of every module. Like PyTorch's nn.Module, a module's parameters are its own (registered with
 * `registerParameter`) followed by those of its submodules: every own property holding a Module, in the order
 * the properties were assigned, under dotted names (`rnn.weight_ih_l0`, `head.bias`).
 */
export abstract class Module {
  #parameters = new Map<string, Tensor<'float32'>>();
  #training = true;
  #inFlight = 0;

  /** `[name, module]` for each direct submodule, in property order. */
  namedChildren(): [string, Module][] {
    // keys, not Object.entries: every forward walks the modules several times, and entries built a pair per field
    const result: [string, Module][] = [];
    for (const key of Object.keys(this)) {
      const value = (this as Record<string, unknown>)[key];
      if (value instanceof Module) result.push([key, value]);
    }
    return result;
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every module below it, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const result: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) result.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return result;
  }

  /** True in training mode (the default), false after `eval()`. */
  get training(): boolean {
    return this.#training;
  }

  /**
   * The device of the module's parameters ('cpu' unless moved with `to`). Every parameter is on this device,
   * and forward wants its input and hidden state there too.
   */
  get device(): Device {
    const first = this.parameters()[0];
    return first ? first.device : 'cpu';
  }

  /**
   * Moves every parameter to `device` ('cpu', 'cuda' = 'cuda:0', 'cuda:N') and/or converts it to a floating
   * `dtype` ('float32', 'float16', 'bfloat16') in place, like PyTorch's `module.to`: `to(device)`, `to(dtype)`,
   * `to(device, dtype)` or `to({ device, dtype })`. The parameter Tensors stay the same objects (so
   * `namedParameters()` and `stateDict()` references stay valid) and get new memory; their old device memory is
   * freed. Gradients move and convert with them, as in PyTorch. Returns the module. On any error (an unusable
   * device, out of memory) the module is left unchanged.
   */
  to(device: DeviceLike): this;
  to(dtype: FloatDType): this;
  to(device: DeviceLike, dtype: FloatDType): this;
  to(options: ToOptions): this;
  to(...args: unknown[]): this {
    const asked = parseToArgs(args);
    const leavesCpu = asked.device !== undefined && asked.device !== 'cpu';
    if (leavesCpu || (asked.dtype !== undefined && asked.dtype !== 'float32')) {
      const what = leavesCpu ? `move to ${asked.device}` : `convert to ${asked.dtype}`;
      if (this.#prefixesOf(quantizedState).length > 0) throw quantizedRefusal(this.constructor.name, what);
      if (this.#prefixesOf(preparedState).length > 0) throw preparedRefusal(this.constructor.name, what);
    }
    if (leavesCpu) requireCudaDevice(cudaIndex(asked.device!));
    this.#checkIdle('move');
    const moves: [Tensor<'float32'>, FloatDType, FloatStorage, FloatStorage | null][] = [];
    try {
      for (const [name, param] of this.namedParameters()) {
        const device: Device = asked.device ?? param.device;
        const from = param.dtype as FloatDType;
        const dtype = asked.dtype ?? from;
        if (param.device === device && from === dtype) continue;
        if (param.disposed) throw new Error(`parameter ${name} of ${this.constructor.name} has been disposed`);
        const grad = param.grad && !param.grad.disposed ? param.grad : null;
        moves.push([param, dtype, convertStorage(param.storage(), from, dtype, device), null]);
        if (grad) moves[moves.length - 1][3] = convertStorage(grad.storage() as FloatStorage, grad.dtype as FloatDType, dtype, device);
      }
    } catch (e) {
      for (const [, , storage, grad] of moves) {
        freeStorage(storage);
        freeStorage(grad);
      }
      throw e;
    }
    for (const [param, dtype, storage, grad] of moves) {
      const old = param.grad;
      param._replaceStorage(storage, dtype);
      if (grad && old) param.grad = new Tensor(grad as Float32Array, old.shape, dtype as 'float32');
    }
    return this;
  }

  /** `to('float16')`: every parameter (and gradient) converted in place, like PyTorch's `module.half()`. */
  half(): this {
    return this.to('float16');
  }

  /** `to('bfloat16')`. */
  bfloat16(): this {
    return this.to('bfloat16');
  }

  /** `to('float32')`. */
  float(): this {
    return this.to('float32');
  }

  /** The dtype of the module's parameters (float32 unless converted with `to`/`half`/`bfloat16`). */
  get dtype(): FloatDType {
    const prepared = preparedState(this);
    if (prepared) return prepared.dtype;
    const first = this.parameters()[0];
    return first ? (first.dtype as FloatDType) : 'float32';
  }

  /** `to('cuda:<index>')`. */
  cuda(index = 0): this {
    return this.to(`cuda:${index}` as DeviceLike);
  }

  /** `to('cpu')`. */
  cpu(): this {
    return this.to('cpu' as DeviceLike);
  }

  /**
   * The dotted prefixes ('' for this module, else 'name.') of the modules in this one that `made` has a state for:
   * the int8 modules quantizeDynamic made (quantizedState), those optimizeForInference made (preparedState).
   */
  #prefixesOf(made: (m: Module) => unknown): string[] {
    return this.namedModules().filter(([, m]) => made(m)).map(([name]) => (name ? `${name}.` : ''));
  }

  /**
   * A new instance of `module`'s class on which only Module's own constructor ran (not the class's, which may take
   * arguments and draws random weights), in `module`'s training mode, with `parameters` registered as they are
   * (requiresGrad untouched). quantizeDynamic builds its copies with it; the caller sets the other properties.
   * @internal
   */
  static _blankLike<T extends Module>(module: T, parameters: readonly [string, Tensor<'float32'>][]): T {
    const blank = Reflect.construct(Module, [], module.constructor) as T;
    blank.#training = module.#training;
    for (const [name, p] of parameters) blank.#parameters.set(name, p);
    return blank;
  }

  #checkIdle(what: 'load a state dict into' | 'move'): void {
    const running = this.namedModules().reduce((n, [, m]) => n + m.#inFlight, 0);
    if (running > 0) {
      throw new Error(`Cannot ${what} ${this.constructor.name} while ${running} forwardAsync call(s) are running; await them first`);
    }
  }

  /** Adds a parameter of this module (it requires grad, as in PyTorch); for modules written by users too. */
  protected registerParameter(name: string, value: Tensor<'float32'>): void {
    if (!(value instanceof Tensor) || value.dtype !== 'float32') throw new TypeError(`Expected a float32 Tensor for parameter ${name} but received ${describe(value)}`);
    if (name.includes('.') || name === '') throw new RangeError(`parameter name can't contain "." or be empty, got ${JSON.stringify(name)}`);
    value.requiresGrad = true;
    this.#parameters.set(name, value);
  }

  protected parameter(name: string): Tensor<'float32'> {
    const p = this.#parameters.get(name);
    if (p === undefined) throw new Error(`${this.constructor.name} has no parameter ${name}`);
    return p;
  }

  /**
   * `[name, tensor]` pairs in PyTorch's order (own parameters in registration order, then each submodule's
   * under its property name); the tensors are the module's own (not copies).
   */
  namedParameters(prefix = ''): [string, Tensor<'float32'>][] {
    const result: [string, Tensor<'float32'>][] = [...this.#parameters.entries()].map(([k, v]) => [prefix + k, v]);
    for (const [name, child] of this.namedChildren()) result.push(...child.namedParameters(`${prefix}${name}.`));
    return result;
  }

  parameters(): Tensor<'float32'>[] {
    const result = [...this.#parameters.values()];
    for (const [, child] of this.namedChildren()) result.push(...child.parameters());
    return result;
  }

  /** The parameters by name, sharing the module's memory like PyTorch's `state_dict()`. */
  stateDict(): Record<string, Tensor<'float32'>> {
    return Object.fromEntries(this.namedParameters());
  }

  /**
   * Copies values into the module's parameters, on whatever device they are (the dict's tensors may be on any
   * device). Every problem (missing or unexpected keys under `strict`, shape or dtype mismatches) is reported
   * at once, and on any error the module is left unchanged.
   */
  loadStateDict(dict: Record<string, AnyTensor>, options?: LoadStateDictOptions): LoadStateDictResult {
    const opts = checkOptions('loadStateDict options', options, ['strict']);
    const strict = opts.strict === undefined ? true : checkBoolean('strict', opts.strict);
    if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) {
      throw new TypeError(`Expected an object of Tensors for stateDict but received ${describe(dict)}`);
    }
    this.#checkIdle('load a state dict into');
    const keys = Object.keys(dict);
    const refusals: [(m: Module) => unknown, () => Error][] = [
      [quantizedState, () => quantizedRefusal(this.constructor.name, 'load float weights with loadStateDict')],
      [preparedState, () => preparedRefusal(this.constructor.name, 'load weights with loadStateDict')],
    ];
    for (const [made, refusal] of refusals) {
      const prefixes = this.#prefixesOf(made);
      if (keys.some((k) => prefixes.some((p) => p === '' || k.startsWith(p)))) throw refusal();
    }
    const params = new Map(this.namedParameters());
    const missingKeys = [...params.keys()].filter((k) => !(k in dict));
    const unexpectedKeys = Object.keys(dict).filter((k) => !params.has(k));
    const errors: string[] = [];
    if (strict && missingKeys.length > 0) errors.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
    if (strict && unexpectedKeys.length > 0) errors.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    const updates: [Tensor<'float32'>, AnyTensor][] = [];
    for (const [name, param] of params) {
      if (!(name in dict)) continue;
      const value = dict[name];
      if (param.disposed) {
        errors.push(`parameter ${name} of the module has been disposed.`);
      } else if (!isTensor(value)) {
        errors.push(`Expected a Tensor for ${name} but received ${describe(value)}.`);
      } else if (value.disposed) {
        errors.push(`${name} is a disposed Tensor.`);
      } else if (value.dtype === 'int64') {
        errors.push(`dtype mismatch for ${name}: copying a param of dtype ${value.dtype} from checkpoint, the dtype in current model is ${param.dtype}.`);
      } else if (shapeText(value.shape) !== shapeText(param.shape)) {
        errors.push(`size mismatch for ${name}: copying a param with shape ${shapeText(value.shape)} from checkpoint, the shape in current model is ${shapeText(param.shape)}.`);
      } else {
        updates.push([param, value]);
      }
    }
    if (errors.length > 0) {
      throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join('\n\t')}`);
    }
    // into the parameters on whatever device they are, from tensors on any device; floating dtypes convert to the
    // parameter's, as PyTorch's copy_ does
    for (const [param, value] of updates) {
      if (value.dtype === param.dtype) {
        copyInto(param.storage(), value.storage() as FloatStorage);
        continue;
      }
      const converted = convertStorage(value.storage() as FloatStorage, value.dtype as FloatDType, param.dtype as FloatDType, param.device);
      try {
        copyInto(param.storage(), converted);
      } finally {
        freeStorage(converted);
      }
    }
    return { missingKeys, unexpectedKeys };
  }

  /** Training mode on (default) or off; returns the module, like PyTorch. */
  train(mode = true): this {
    this.#training = checkBoolean('mode', mode);
    for (const child of this.children()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's `.grad` (sets it to null, PyTorch's default). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
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
