// Optimizer base, like torch.optim.Optimizer: parameter groups (each with its own hyperparameters), per-parameter
// state created lazily at the first step that sees a gradient, zeroGrad, and state dicts in PyTorch's layout
// (state indexed by parameter position over all groups, groups listing those positions).
//
// The updates run element by element on the host (in JS doubles, rounded to float32 wherever PyTorch stores a
// float32 tensor); SGD and Adam/AdamW update CUDA parameters on the GPU with the same roundings
// (native/cuda/cuda_optim_kernels.cu), other optimizers download, update and upload them.
import { NativeStorage } from '../binding';
import { checkBoolean, checkOptions, describe, shapeText } from '../checks';
import { copyInto } from '../cuda';
import { isGradEnabled, setGradEnabled } from '../autograd/grad-mode';
import { Tensor, isTensor } from '../tensor';

/** A value of a parameter's optimizer state: a tensor shaped like the parameter, or a number such as `step`. */
export type StateValue = Tensor<'float32'> | number;
/** One parameter's optimizer state, under PyTorch's names (`momentum_buffer`, `step`, `exp_avg`, ...). */
export type ParamState = Record<string, StateValue>;

/** A parameter group: its parameters and its (complete) hyperparameters. Change them between steps like PyTorch's `param_groups`. */
export type ParamGroup<O> = O & { params: Tensor<'float32'>[] };

/** A parameter group as the constructor and `addParamGroup` take it: hyperparameters left out come from the defaults. */
export type ParamGroupInput<O> = Partial<O> & { params: Iterable<Tensor<'float32'>> | Tensor<'float32'> };

/** What optimizers take: parameters (e.g. `module.parameters()`), or parameter groups with their own options. */
export type ParamsInput<O> = Iterable<Tensor<'float32'>> | Iterable<ParamGroupInput<O>>;

/** PyTorch's `optimizer.state_dict()` layout; the state's tensors are the optimizer's own (not copies), as in PyTorch. */
export interface OptimizerStateDict<O = Record<string, unknown>> {
  /** Per-parameter state, keyed by the parameter's position over all groups; parameters without state are absent. */
  state: Record<number, ParamState>;
  /** Each group's hyperparameters, with `params` listing its parameters' positions. */
  paramGroups: (O & { params: number[] })[];
}

/** Which state entries an optimizer keeps per parameter (for validating loaded state dicts). */
export interface StateKeys {
  /** Tensor entries shaped like the parameter, that must be present once a parameter has state. */
  requiredTensors: readonly string[];
  /** Tensor entries that may be present. */
  optionalTensors: readonly string[];
  /** Number entries that must be present once a parameter has state (such as `step`). */
  numbers: readonly string[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !isTensor(value);
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return value !== null && value !== undefined && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** A number option (NaN passes here: the range checks reject it with PyTorch's message). */
export function optionNumber(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`Expected number for ${name} but received ${describe(value)}`);
  return value;
}

export function optionBoolean(name: string, value: unknown): boolean {
  return checkBoolean(name, value);
}

/** The host values of a float32 tensor: its own memory on the CPU, a downloaded copy on CUDA (see `commit`). */
export function hostValues(t: Tensor<'float32'>): Float32Array {
  return t.hostData();
}

/** Writes `values` (from `hostValues(t)`) back into `t` when they are a copy (CUDA); a no-op on the CPU. */
export function commit(t: Tensor<'float32'>, values: Float32Array): void {
  const storage = t.storage() as NativeStorage;
  if (storage !== values) copyInto(storage, values);
}

/** A new tensor holding `values`, shaped like `like` and on its device. */
export function tensorLike(like: Tensor<'float32'>, values: Float32Array): Tensor<'float32'> {
  const host = new Tensor<'float32'>(values, like.shape);
  return like.device === 'cpu' ? host : host.to(like.device);
}

/** A tensor of zeros shaped like `like`, on its device. */
export function zerosLike(like: Tensor<'float32'>): Tensor<'float32'> {
  return tensorLike(like, new Float32Array(like.numel));
}

export abstract class Optimizer<O extends object = Record<string, unknown>> {
  /** The parameter groups, each with its hyperparameters (mutable between steps, like PyTorch's `param_groups`). */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created at the first step that sees the parameter's gradient. */
  readonly state = new Map<Tensor<'float32'>, ParamState>();
  /** The options given to the constructor, completed with the optimizer's defaults; groups fall back to them. */
  readonly defaults: O;
  readonly #name: string;

  /**
   * `defaults` are the validated, complete constructor options. Subclasses implement the option checks
   * (`resolveOptions`), the state layout (`stateKeys`) and the update of one parameter (`update`).
   */
  protected constructor(name: string, params: unknown, defaults: O) {
    this.#name = name;
    this.defaults = defaults;
    if (isTensor(params) || !isIterable(params) || typeof params === 'string') {
      throw new TypeError(
        `params argument given to the optimizer should be an iterable of Tensors or dicts, but got ${describe(params)}`,
      );
    }
    const list = [...params];
    if (list.length === 0) throw new RangeError('optimizer got an empty parameter list');
    if (!isPlainObject(list[0])) {
      this.addParamGroup({ params: list } as unknown as ParamGroupInput<O>);
      return;
    }
    list.forEach((group, i) => {
      if (!isPlainObject(group)) throw new TypeError(`Expected a parameter group ({ params, ...options }) for params[${i}] but received ${describe(group)}`);
    });
    for (const group of list) this.addParamGroup(group as ParamGroupInput<O>);
  }

  /** Validates `raw` (a group's or a loaded state dict's options) and completes it from `base`. */
  protected abstract resolveOptions(raw: Record<string, unknown>, base: O): O;

  /** The state entries a parameter of a group with these options keeps. */
  protected abstract stateKeys(options: O): StateKeys;

  /**
   * Updates one parameter from its gradient (same shape and device, checked), in place; `state` is the
   * parameter's state record (empty at its first step), to be filled or updated in place.
   */
  protected abstract update(group: ParamGroup<O>, param: Tensor<'float32'>, grad: Tensor<'float32'>, state: ParamState): void;

  /** Every parameter of every group, in order (the positions a state dict uses). */
  get params(): Tensor<'float32'>[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** Adds a parameter group (`{ params, ...options }`; options left out come from the defaults), like `add_param_group`. */
  addParamGroup(group: ParamGroupInput<O>): void {
    if (!isPlainObject(group)) {
      throw new TypeError(`Expected a parameter group ({ params, ...options }) for param group but received ${describe(group)}`);
    }
    const optionKeys = Object.keys(this.defaults);
    const raw = checkOptions(`${this.#name} parameter group`, group, [...optionKeys, 'params']);
    if (!('params' in raw)) {
      throw new TypeError(`Expected a parameter group with params (a Tensor or an iterable of Tensors) for param group but received ${describe(group)}`);
    }
    const given = raw.params;
    if (!isTensor(given) && (!isIterable(given) || typeof given === 'string')) {
      throw new TypeError(`Expected a Tensor or an iterable of Tensors for params but received ${describe(given)}`);
    }
    const params = isTensor(given) ? [given] : [...given];
    params.forEach((p, i) => {
      if (!isTensor(p)) {
        throw new TypeError(`optimizer can only optimize Tensors, but one of the params is ${describe(p)} (params[${i}])`);
      }
      if (p.dtype !== 'float32') throw new TypeError(`Expected a float32 Tensor for params[${i}] but received dtype ${p.dtype}`);
      if (p.disposed) throw new Error(`params[${i}] is a disposed Tensor; it can no longer be used`);
      if (p.gradFn !== null) throw new Error(`can't optimize a non-leaf Tensor (params[${i}])`);
    });
    if (new Set(params).size !== params.length) throw new Error('optimizer contains a parameter group with duplicate parameters');
    const existing = new Set(this.params);
    if (params.some((p) => existing.has(p as Tensor<'float32'>))) throw new Error('some parameters appear in more than one parameter group');
    const { params: _, ...options } = raw;
    const resolved = this.resolveOptions(options, this.defaults);
    this.paramGroups.push({ ...resolved, params: params as Tensor<'float32'>[] });
  }

  /**
   * One optimization step over every parameter that has a gradient (the others are skipped, as in PyTorch).
   * `closure`, when given, is called first (with grad mode on) and its result returned, like PyTorch's
   * `step(closure)`. Every gradient is checked before any parameter changes.
   */
  step<T = undefined>(closure?: () => T): T | undefined {
    let loss: T | undefined;
    if (closure !== undefined) {
      if (typeof closure !== 'function') throw new TypeError(`Expected a function for closure but received ${describe(closure)}`);
      const previous = isGradEnabled();
      setGradEnabled(true);
      try {
        loss = closure();
      } finally {
        setGradEnabled(previous);
      }
    }
    const work: [ParamGroup<O>, Tensor<'float32'>, Tensor<'float32'>][] = [];
    let index = 0;
    for (const group of this.paramGroups) {
      for (const param of group.params) {
        const i = index++;
        if (param.disposed) throw new Error(`params[${i}] is a disposed Tensor; it can no longer be used`);
        const grad = param.grad;
        if (grad === null || grad === undefined) continue;
        if (!isTensor(grad)) throw new TypeError(`Expected a Tensor for the grad of params[${i}] but received ${describe(grad)}`);
        if (grad.disposed) throw new Error(`the grad of params[${i}] is a disposed Tensor; it can no longer be used`);
        if (grad.dtype !== 'float32') throw new TypeError(`Expected a float32 grad for params[${i}] but received dtype ${grad.dtype}`);
        if (shapeText(grad.shape) !== shapeText(param.shape)) {
          throw new RangeError(`Expected a grad of shape ${shapeText(param.shape)} for params[${i}] but received shape ${shapeText(grad.shape)}`);
        }
        if (grad.device !== param.device) {
          throw new Error(`Expected the grad of params[${i}] on ${param.device} (the parameter's device) but received one on ${grad.device}`);
        }
        work.push([group, param, grad]);
      }
    }
    for (const [group, param, grad] of work) {
      const state = this.state.get(param) ?? {};
      this.update(group, param, grad, state);
      if (Object.keys(state).length > 0) this.state.set(param, state);
    }
    return loss;
  }

  /**
   * Clears the gradients of every parameter: sets them to null (PyTorch's default `set_to_none=True`), or
   * fills them with zeros when `setToNone` is false.
   */
  zeroGrad(setToNone = true): void {
    checkBoolean('setToNone', setToNone);
    for (const p of this.params) {
      if (p.grad === null) continue;
      if (setToNone) {
        p.grad = null;
      } else {
        const values = hostValues(p.grad);
        values.fill(0);
        commit(p.grad, values);
      }
    }
  }

  /**
   * The optimizer's state in PyTorch's layout: `state[i]` for the i-th parameter over all groups (only those
   * with state; tensors shared with the optimizer, `step` as a number), `paramGroups` with each group's
   * hyperparameters and its parameters' positions.
   */
  stateDict(): OptimizerStateDict<O> {
    const positions = new Map<Tensor<'float32'>, number>();
    const paramGroups = this.paramGroups.map((group) => {
      const { params, ...options } = group;
      const ids = params.map((p) => {
        positions.set(p, positions.size);
        return positions.size - 1;
      });
      return { ...copyOptions(options as unknown as O), params: ids };
    });
    const state: Record<number, ParamState> = {};
    for (const [param, values] of this.state) {
      const id = positions.get(param);
      if (id !== undefined) state[id] = { ...values };
    }
    return { state, paramGroups };
  }

  /**
   * Restores a state dict made by `stateDict()` (of an optimizer of the same kind over parameters of the same
   * shapes, in the same groups): the groups' hyperparameters and every parameter's state, copied onto the
   * parameters' devices. Everything is checked first; on any error the optimizer is left unchanged.
   */
  loadStateDict(stateDict: OptimizerStateDict<O>): void {
    const sd = stateDict as unknown;
    if (!isPlainObject(sd) || !isPlainObject(sd.state) || !Array.isArray(sd.paramGroups)) {
      throw new TypeError(`Expected an optimizer state dict ({ state, paramGroups }) for stateDict but received ${describe(sd)}`);
    }
    const savedGroups = sd.paramGroups as unknown[];
    if (savedGroups.length !== this.paramGroups.length) {
      throw new RangeError(
        `loaded state dict has a different number of parameter groups (${savedGroups.length}; the optimizer has ${this.paramGroups.length})`,
      );
    }
    const optionKeys = Object.keys(this.defaults);
    const newOptions: O[] = [];
    const idToParam = new Map<number, [Tensor<'float32'>, O]>();
    savedGroups.forEach((saved, g) => {
      if (!isPlainObject(saved)) throw new TypeError(`Expected an object for paramGroups[${g}] but received ${describe(saved)}`);
      const raw = checkOptions(`paramGroups[${g}] of the state dict`, saved, [...optionKeys, 'params']);
      const ids = raw.params;
      if (!Array.isArray(ids)) throw new TypeError(`Expected an array of parameter positions for paramGroups[${g}].params but received ${describe(ids)}`);
      const group = this.paramGroups[g];
      if (ids.length !== group.params.length) {
        throw new RangeError(
          `loaded state dict contains a parameter group that doesn't match the size of optimizer's group ` +
            `(paramGroups[${g}] has ${ids.length} parameters; the optimizer's has ${group.params.length})`,
        );
      }
      const { params: _, ...rawOptions } = raw;
      const { params: __, ...current } = group;
      const options = this.resolveOptions(rawOptions, current as unknown as O);
      newOptions.push(options);
      ids.forEach((id, k) => {
        if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
          throw new TypeError(`Expected a non-negative integer for paramGroups[${g}].params[${k}] but received ${describe(id)}`);
        }
        if (idToParam.has(id)) throw new RangeError(`parameter position ${id} appears more than once in the state dict's paramGroups`);
        idToParam.set(id, [group.params[k], options]);
      });
    });
    const newState = new Map<Tensor<'float32'>, ParamState>();
    for (const [key, saved] of Object.entries(sd.state as Record<string, unknown>)) {
      const id = Number(key);
      const entry = Number.isInteger(id) ? idToParam.get(id) : undefined;
      if (entry === undefined) throw new RangeError(`state[${key}] of the state dict belongs to no parameter of its paramGroups`);
      const [param, options] = entry;
      if (!isPlainObject(saved)) throw new TypeError(`Expected an object for state[${key}] but received ${describe(saved)}`);
      const values = this.#loadParamState(`state[${key}]`, saved, param, options);
      if (Object.keys(values).length > 0) newState.set(param, values);
    }
    // everything checked: commit
    this.paramGroups.forEach((group, g) => Object.assign(group, newOptions[g]));
    this.state.clear();
    for (const [param, values] of newState) this.state.set(param, values);
  }

  /** A checked copy of one parameter's saved state, its tensors copied onto the parameter's device. */
  #loadParamState(where: string, saved: Record<string, unknown>, param: Tensor<'float32'>, options: O): ParamState {
    const keys = this.stateKeys(options);
    const known = [...keys.requiredTensors, ...keys.optionalTensors, ...keys.numbers];
    for (const k of Object.keys(saved)) {
      if (!known.includes(k)) {
        throw new RangeError(`Unexpected key ${JSON.stringify(k)} in ${where} for ${this.#name}; expected ${known.join(', ')}`);
      }
    }
    if (Object.keys(saved).length === 0) return {};
    const out: ParamState = {};
    for (const k of keys.numbers) {
      let value = saved[k];
      if (isTensor(value) && !value.disposed && value.numel === 1) value = Number(value.hostData()[0]);
      if (typeof value !== 'number') throw new TypeError(`Expected a non-negative number for ${where}.${k} but received ${describe(value)}`);
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`Expected a non-negative number for ${where}.${k} but received ${value}`);
      out[k] = value;
    }
    for (const k of [...keys.requiredTensors, ...keys.optionalTensors]) {
      const value = saved[k];
      if (value === undefined && !keys.requiredTensors.includes(k)) continue;
      if (!isTensor(value)) throw new TypeError(`Expected a Tensor for ${where}.${k} but received ${describe(value)}`);
      if (value.disposed) throw new Error(`${where}.${k} is a disposed Tensor`);
      if (value.dtype !== 'float32') throw new TypeError(`Expected a float32 Tensor for ${where}.${k} but received dtype ${value.dtype}`);
      if (shapeText(value.shape) !== shapeText(param.shape)) {
        throw new RangeError(
          `size mismatch for ${where}.${k}: copying a tensor with shape ${shapeText(value.shape)} from checkpoint, ` +
            `the shape of the parameter is ${shapeText(param.shape)}`,
        );
      }
      const v = value as Tensor<'float32'>;
      out[k] = v.device === param.device ? v.clone() : v.to(param.device);
    }
    return out;
  }
}

/** A copy of a group's options (arrays such as betas copied, so a state dict does not alias the group). */
function copyOptions<O>(options: O): O {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options as Record<string, unknown>)) out[k] = Array.isArray(v) ? v.slice() : v;
  return out as O;
}
