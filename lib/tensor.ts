// Tensor: a shape over memory that is the tensor's own: a TypedArray in host memory (CPU tensors), or a
// DeviceBuffer on a CUDA device (CUDA tensors: float32, float16 or bfloat16). Native code reads and writes that
// memory in place, and `fromBuffer` shares a Node Buffer's memory, so nothing is copied between JS and C++.
// float16/bfloat16 host memory is a Uint16Array of the raw bits (lib/half.ts converts).
import { DeviceBuffer, FloatStorage, NativeStorage } from './binding';
import { checkInteger, checkOneOf, checkOptions, checkShape, describe } from './checks';
import {
  Device, DeviceLike, bufferDType, convertStorage, copyStorage, downloadRaw, filledStorage, freeStorage, isDeviceBuffer,
  parseDevice, requireCudaDevice, cudaIndex, storageDevice,
} from './cuda';
import { FloatDType, HalfDType, fromHalfArray, isHalfDType, toHalfArray } from './half';
import { addSuffixes, formatTensor } from './format';
import { backward as runBackward } from './autograd/engine';
import { reshape as reshapeOp } from './autograd/ops';
import { type GradNode, recordNode } from './autograd/node';
import { nextNormal, nextUniform } from './random';
import { checkTensorAllocation } from './limits';

export type DType = 'float32' | 'float16' | 'bfloat16' | 'int64';
export type { Device, DeviceLike, FloatDType, HalfDType };
/** The host memory of each dtype: float16 and bfloat16 as their raw bits (use `toArray()` for the values). */
export type DataFor<D extends DType> = D extends 'int64' ? BigInt64Array : D extends HalfDType ? Uint16Array : Float32Array;
/** Nested arrays of numbers, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray<T> = T | NestedArray<T>[];
export type AnyTensor = Tensor<'float32'> | Tensor<'float16'> | Tensor<'bfloat16'> | Tensor<'int64'>;

const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'int64'];
export const FLOAT_DTYPES: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];

/** Bytes per element. */
export function itemSize(dtype: DType): number {
  return dtype === 'int64' ? 8 : dtype === 'float32' ? 4 : 2;
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const DISPOSED = 'Tensor has been disposed; its data can no longer be used';

function int64OnCpuOnly(device: Device): Error {
  return new TypeError(`int64 tensors are CPU-only (they hold lengths and indices); cannot put one on ${device}`);
}

/** What `to()` accepts: a device, a floating dtype, or both. */
export interface ToOptions {
  device?: DeviceLike;
  dtype?: FloatDType;
}

function isFloatDTypeName(value: unknown): value is FloatDType {
  return value === 'float32' || value === 'float16' || value === 'bfloat16';
}

/**
 * The device and/or dtype a `to(...)` call asks for: `to(device)`, `to(dtype)`, `to(device, dtype)` or
 * `to({ device, dtype })`, as PyTorch's `Tensor.to` and `Module.to`; a part not asked for is undefined.
 */
export function parseToArgs(args: readonly unknown[]): { device?: Device; dtype?: FloatDType } {
  const [first, second] = args;
  if (args.length === 0 || args.length > 2) throw new TypeError(`to() takes a device, a dtype, (device, dtype) or { device, dtype } but received ${args.length} arguments`);
  if (args.length === 2) {
    if (!isFloatDTypeName(second)) throw new TypeError(`Expected a floating dtype ('float32', 'float16' or 'bfloat16') for dtype but received ${describe(second)}`);
    return { device: parseDevice(first), dtype: second };
  }
  if (isFloatDTypeName(first)) return { dtype: first };
  if (isPlainObject(first)) {
    const opts = checkOptions('to options', first, ['device', 'dtype']);
    return {
      device: opts.device === undefined ? undefined : parseDevice(opts.device),
      dtype: opts.dtype === undefined ? undefined : checkOneOf('dtype', opts.dtype, FLOAT_DTYPES),
    };
  }
  return { device: parseDevice(first) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export class Tensor<D extends DType = 'float32'> {
  readonly shape: readonly number[];
  readonly numel: number;
  #dtype: D;
  #data: DataFor<D> | DeviceBuffer | null;
  #device: Device;
  #requiresGrad = false;
  /** Gradient accumulated by `backward()` (leaf tensors that require grad), like PyTorch's `.grad`. */
  grad: Tensor<'float32'> | null = null;
  /** The recorded operation that produced this tensor (null for leaves). Internal to autograd. */
  gradFn: GradNode | null = null;
  /** Which output of `gradFn` this tensor is. Internal to autograd. */
  outputIndex = 0;

  /**
   * Wraps `data` without copying; prefer the factories (`tensor`, `zeros`, `fromBuffer`, ...). `data` may also be
   * a native DeviceBuffer (a CUDA tensor of the buffer's dtype over it). A Uint16Array holds float16 or bfloat16
   * bits, so its `dtype` must be given.
   */
  constructor(data: DataFor<D> | DeviceBuffer, shape: readonly number[], dtype?: D) {
    let inferred: D;
    if (isDeviceBuffer(data)) {
      if (data.freed) throw new Error('Expected a live DeviceBuffer for data but received a freed one');
      inferred = bufferDType(data) as D;
      if (dtype !== undefined && dtype !== inferred) {
        throw new TypeError(`Expected dtype ${inferred} for this DeviceBuffer (it holds ${inferred}) but received ${dtype}`);
      }
    } else if (data instanceof Uint16Array) {
      if (dtype !== 'float16' && dtype !== 'bfloat16') {
        throw new TypeError(`Expected dtype 'float16' or 'bfloat16' for a Uint16Array of half-precision bits but received ${describe(dtype)}`);
      }
      inferred = dtype;
    } else {
      if (!(data instanceof Float32Array) && !(data instanceof BigInt64Array)) {
        throw new TypeError(`Expected a Float32Array, Uint16Array or BigInt64Array for data but received ${describe(data)}`);
      }
      inferred = (data instanceof BigInt64Array ? 'int64' : 'float32') as D;
      if (dtype !== undefined && dtype !== inferred) {
        const wanted = dtype === 'int64' ? 'a BigInt64Array' : isHalfDType(dtype) ? 'a Uint16Array' : 'a Float32Array';
        throw new TypeError(`Expected ${wanted} for data of dtype ${dtype} but received ${describe(data)}`);
      }
    }
    this.shape = Object.freeze(checkShape('shape', shape));
    this.numel = numelOf(this.shape);
    if (this.numel !== data.length) {
      throw new RangeError(`shape [${this.shape.join(', ')}] is invalid for input of size ${data.length}`);
    }
    this.#dtype = inferred;
    this.#data = data;
    this.#device = storageDevice(data);
  }

  /** 'float32', 'float16', 'bfloat16' or 'int64'. It changes only when a module converts its parameters in place. */
  get dtype(): D {
    return this.#dtype;
  }

  /** Whether operations on this tensor are recorded so that backward reaches it (like `requires_grad`). */
  get requiresGrad(): boolean {
    return this.#requiresGrad || this.gradFn !== null;
  }

  set requiresGrad(value: boolean) {
    if (typeof value !== 'boolean') throw new TypeError(`Expected boolean for requiresGrad but received ${describe(value)}`);
    if (value && this.dtype === 'int64') throw new TypeError('only Tensors of floating point dtype can require gradients');
    if (!value && this.gradFn !== null) {
      throw new Error('you can only change requiresGrad flags of leaf variables; use detach() to get a tensor outside the graph');
    }
    this.#requiresGrad = value;
  }

  /** Sets requiresGrad and returns the tensor, like `requires_grad_()`. */
  requiresGrad_(value = true): this {
    this.requiresGrad = value;
    return this;
  }

  /** A tensor over the same memory, outside the recorded graph (like `detach()`). */
  detach(): Tensor<D> {
    return new Tensor<D>(this.storage() as DataFor<D>, this.shape, this.dtype);
  }

  /**
   * Backpropagates from this tensor: `grad` is dL/d(this) (omit it for a single-element tensor), and every leaf
   * that requires grad accumulates dL/d(leaf) into `.grad`.
   */
  backward(grad?: Tensor<'float32'>): void {
    runBackward([this as unknown as Tensor<'float32'>], [grad]);
  }

  /** Where the tensor's memory is: `'cpu'` or `'cuda:N'`. */
  get device(): Device {
    return this.#device;
  }

  /**
   * The tensor's memory (no copy). Throws once the tensor is disposed, and for a CUDA tensor (whose memory is
   * on the GPU: use `.cpu()` first).
   */
  get data(): DataFor<D> {
    const storage = this.storage();
    if (isDeviceBuffer(storage)) throw new Error(`Tensor is on ${this.#device}; call .cpu() to read its data`);
    return storage;
  }

  /** True after `dispose()`, and for a CUDA tensor whose device memory was freed through another tensor sharing it. */
  get disposed(): boolean {
    const d = this.#data;
    return d === null || (isDeviceBuffer(d) && d.freed);
  }

  /**
   * Internal (used by lib/ to hand memory to native code): the tensor's own memory, a TypedArray on the CPU or a
   * DeviceBuffer on CUDA. Throws once the tensor is disposed.
   */
  storage(): DataFor<D> | DeviceBuffer {
    const d = this.#data;
    if (d === null || (isDeviceBuffer(d) && d.freed)) throw new Error(DISPOSED);
    return d;
  }

  /**
   * Internal: the values in host memory, for reading only: the tensor's own memory on the CPU (no copy), a
   * downloaded copy for a CUDA tensor.
   */
  hostData(): DataFor<D> {
    const storage = this.storage();
    return (isDeviceBuffer(storage) ? downloadRaw(storage) : storage) as DataFor<D>;
  }

  /**
   * Internal, for `Module.to` only: replaces the tensor's memory (and so its device, and its dtype when `dtype`
   * is given: float32, float16 or bfloat16) by `storage`, which holds the same number of elements, keeping this
   * Tensor object. The old device memory is freed; views made earlier by `reshape` over it become unusable.
   */
  _replaceStorage(storage: FloatStorage, dtype: FloatDType = this.dtype as FloatDType): void {
    const old = this.storage();
    if (this.dtype === 'int64') throw int64OnCpuOnly(storageDevice(storage));
    if (storage.length !== this.numel) throw new RangeError(`Expected storage of ${this.numel} elements but received ${storage.length}`);
    const held = isDeviceBuffer(storage) ? bufferDType(storage) : storage instanceof Uint16Array ? (isHalfDType(dtype) ? dtype : 'a half dtype') : 'float32';
    if (held !== dtype) throw new TypeError(`Expected storage of dtype ${dtype} but it holds ${held}`);
    if (old === storage) return;
    this.#data = storage as DataFor<D>;
    this.#dtype = dtype as D;
    this.#device = storageDevice(storage);
    freeStorage(old);
  }

  /** Number of dimensions, like `tensor.dim()`. */
  get ndim(): number {
    return this.shape.length;
  }

  /** `size()` gives the shape; `size(dim)` one extent (negative dims count from the end), like PyTorch. */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number | number[] {
    if (dim === undefined) return this.shape.slice();
    return this.shape[normalizeDim(dim, this.shape.length)];
  }

  /**
   * Nested arrays (floating values as numbers, float16/bfloat16 exactly; int64 as bigints), like `tensor.tolist()`
   * (CUDA tensors are downloaded).
   */
  toArray(): NestedArray<D extends 'int64' ? bigint : number> {
    const data = this.hostValues();
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return data[offset];
      const stride = numelOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0) as NestedArray<D extends 'int64' ? bigint : number>;
  }

  /** PyTorch's name for `toArray()`: nested arrays, a number (bigint for int64) for a 0-d tensor. */
  tolist(): NestedArray<D extends 'int64' ? bigint : number> {
    return this.toArray();
  }

  /**
   * The value of a one-element tensor (of any shape), like `tensor.item()`: a number, float16/bfloat16 exactly, a
   * bigint for int64 (as `toArray` gives); a CUDA tensor is read back.
   */
  item(): D extends 'int64' ? bigint : number {
    this.storage(); // a disposed tensor says so first
    if (this.numel !== 1) throw new RangeError(`a Tensor with ${this.numel} elements cannot be converted to Scalar`);
    return this.hostValues()[0] as D extends 'int64' ? bigint : number;
  }

  /**
   * Internal: the values in host memory for reading: `hostData()`, with float16/bfloat16 bits widened to a
   * Float32Array (exact).
   */
  hostValues(): D extends 'int64' ? BigInt64Array : Float32Array {
    const data = this.hostData();
    const dtype = this.dtype;
    return (isHalfDType(dtype) ? fromHalfArray(data as Uint16Array, dtype) : data) as D extends 'int64' ? BigInt64Array : Float32Array;
  }

  /**
   * PyTorch's printed form: `tensor([[ 0.0620, -0.1000]])`, `tensor([1., 2.], device='cuda:0')`,
   * `tensor([1., 2.], dtype=torch.float16)`.
   */
  toString(): string {
    if (this.disposed) return 'tensor(<disposed>)';
    return formatTensor(this.hostValues(), this.shape, this.dtype, this.#device === 'cpu' ? [] : [`device='${this.#device}'`]);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** A copy with memory of its own, on the same device. */
  clone(): Tensor<D> {
    const storage = this.storage();
    if (isDeviceBuffer(storage)) return new Tensor<D>(copyStorage(storage as FloatStorage, this.#device) as DeviceBuffer, this.shape, this.dtype);
    return new Tensor<D>(storage.slice() as DataFor<D>, this.shape, this.dtype);
  }

  /** Tensors here are always contiguous, so this returns the tensor itself, as PyTorch does for contiguous ones. */
  contiguous(): Tensor<D> {
    this.storage();
    return this;
  }

  /** A view with another shape over the same memory (host or device); one dimension may be -1. */
  reshape(...shape: number[] | [number[]]): Tensor<D> {
    const dims = (Array.isArray(shape[0]) ? shape[0] : shape) as number[];
    return reshapeOp(this as unknown as Tensor<'float32'>, dims) as unknown as Tensor<D>;
  }

  /** Same as `reshape` (every tensor is contiguous, so every reshape is a view). */
  view(...shape: number[] | [number[]]): Tensor<D> {
    return this.reshape(...shape);
  }

  /**
   * The tensor on `device` ('cpu', 'cuda' = 'cuda:0', 'cuda:N') and/or of a floating `dtype` ('float32',
   * 'float16', 'bfloat16'), like PyTorch's `to`: `to(device)`, `to(dtype)`, `to(device, dtype)` or
   * `to({ device, dtype })`. Returns the tensor itself when nothing changes, else a copy. int64 tensors stay on
   * the CPU and keep their dtype. A device move of a float32 tensor is differentiable; a dtype conversion is not
   * recorded (its result is outside the graph).
   */
  to(device: DeviceLike): Tensor<D>;
  to<T extends FloatDType>(dtype: T): Tensor<T>;
  to<T extends FloatDType>(device: DeviceLike, dtype: T): Tensor<T>;
  to(options: ToOptions): AnyTensor;
  to(...args: unknown[]): Tensor<DType> {
    const asked = parseToArgs(args);
    const target = asked.device ?? this.#device;
    const dtype: DType = asked.dtype ?? this.dtype;
    const storage = this.storage();
    if (target === this.#device && dtype === this.dtype) return this as unknown as AnyTensor;
    if (this.dtype === 'int64') {
      if (dtype !== 'int64') throw new TypeError(`int64 tensors keep their dtype here (they hold lengths and indices); cannot convert one to ${dtype}`);
      throw int64OnCpuOnly(target);
    }
    if (target !== 'cpu') requireCudaDevice(cudaIndex(target));
    checkTensorAllocation(`to('${target}', '${dtype}') of a [${this.shape.join(', ')}] tensor`, this.numel, itemSize(dtype));
    if (dtype !== this.dtype) {
      const converted = convertStorage(storage as FloatStorage, this.dtype as FloatDType, dtype as FloatDType, target);
      return new Tensor(converted as Float32Array, this.shape, dtype as 'float32') as AnyTensor;
    }
    const moved = new Tensor<D>(copyStorage(storage as FloatStorage, target, this.dtype as FloatDType) as DataFor<D> | DeviceBuffer, this.shape, this.dtype);
    // differentiable like PyTorch's: the gradient goes back to this tensor's device (the engine moves it)
    if (this.dtype === 'float32') recordNode(moved as unknown as Tensor, 'ToCopyBackward0', [this], (g) => [g], false);
    return moved as unknown as AnyTensor;
  }

  /** `to('float16')`, like PyTorch's `half()`. */
  half(): Tensor<'float16'> {
    return this.to('float16');
  }

  /** `to('bfloat16')`. */
  bfloat16(): Tensor<'bfloat16'> {
    return this.to('bfloat16');
  }

  /** `to('float32')`. */
  float(): Tensor<'float32'> {
    return this.to('float32');
  }

  /** `to('cuda:<index>')`. */
  cuda(index = 0): Tensor<D> {
    return this.to(`cuda:${checkInteger('index', index, { min: 0 })}` as DeviceLike);
  }

  /** `to('cpu')`. */
  cpu(): Tensor<D> {
    return this.to('cpu' as DeviceLike);
  }

  /**
   * Drops this handle's reference to the memory; later use throws. On the CPU, views made earlier keep theirs;
   * on CUDA the device memory is freed now, so views made earlier by `reshape` become unusable too (their use throws).
   */
  dispose(): void {
    const d = this.#data;
    this.#data = null;
    if (d !== null && isDeviceBuffer(d)) freeStorage(d);
  }
}

export function normalizeDim(dim: number, ndim: number): number {
  if (ndim === 0) throw new RangeError(`Dimension specified as ${dim} but tensor has no dimensions`);
  checkInteger('dim', dim, { min: -ndim, max: ndim - 1 });
  return dim < 0 ? dim + ndim : dim;
}

export function isTensor(value: unknown): value is AnyTensor {
  return value instanceof Tensor;
}

/** A usable float32 tensor, or a TypeError/Error naming the argument. */
export function checkTensor(name: string, value: unknown): Tensor<'float32'> {
  if (!(value instanceof Tensor)) throw new TypeError(`Expected a Tensor for ${name} but received ${describe(value)}`);
  if (value.disposed) throw new Error(`${name} is a disposed Tensor; it can no longer be used`);
  if (value.dtype !== 'float32') {
    const hint = value.device !== 'cpu' && value.dtype !== 'int64' ? `; convert it with .float() first` : '';
    throw new TypeError(`Expected a float32 Tensor for ${name} but received dtype ${value.dtype} (only float32 is supported here${hint})`);
  }
  return value as Tensor<'float32'>;
}

/**
 * A usable floating tensor (float32, float16 or bfloat16), for the operations that take half precision (the
 * recurrent modules on CUDA); typed as float32 because that is what the rest of lib/ handles, so callers check
 * `dtype` themselves.
 */
export function checkFloatTensor(name: string, value: unknown): Tensor<'float32'> {
  if (!(value instanceof Tensor)) throw new TypeError(`Expected a Tensor for ${name} but received ${describe(value)}`);
  if (value.disposed) throw new Error(`${name} is a disposed Tensor; it can no longer be used`);
  if (value.dtype === 'int64') throw new TypeError(`Expected a floating point Tensor (float32, float16 or bfloat16) for ${name} but received dtype int64`);
  return value as Tensor<'float32'>;
}

export interface TensorOptions<D extends DType = DType> {
  dtype?: D;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceLike;
}

export interface DeviceOptions {
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceLike;
}

/** Options of the random factories: a floating dtype and a device. */
export interface FloatTensorOptions<D extends FloatDType = FloatDType> {
  dtype?: D;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceLike;
}

/** Validated dtype and device of a factory's options; a CUDA device is checked to be usable. */
function factoryOptions(fn: string, options: unknown, keys: readonly string[] = ['dtype', 'device'], dtypes: readonly DType[] = DTYPES): { dtype: DType; device: Device } {
  const opts = checkOptions(`${fn} options`, options, keys);
  const dtype = opts.dtype === undefined ? 'float32' : checkOneOf('dtype', opts.dtype, dtypes);
  const device = opts.device === undefined ? 'cpu' : parseDevice(opts.device);
  if (device !== 'cpu') {
    if (dtype === 'int64') throw int64OnCpuOnly(device);
    requireCudaDevice(cudaIndex(device));
  }
  return { dtype, device };
}

/**
 * A tensor over `host`'s values on `device` as `dtype` (shared on the CPU when no conversion is needed, uploaded
 * to CUDA; int64 stays on the CPU). float16/bfloat16 values are rounded from the float32 ones.
 */
function placed(host: Float32Array | BigInt64Array, shape: readonly number[], device: Device, dtype: DType = host instanceof BigInt64Array ? 'int64' : 'float32'): AnyTensor {
  if (host instanceof BigInt64Array) return new Tensor(host, shape) as AnyTensor;
  const values: Float32Array | Uint16Array = isHalfDType(dtype) ? toHalfArray(host, dtype) : host;
  if (device === 'cpu') return new Tensor(values as Float32Array, shape, dtype as 'float32') as AnyTensor;
  return new Tensor(copyStorage(values, device, dtype as FloatDType) as DeviceBuffer, shape) as AnyTensor;
}

/** An int64 element from a number, truncated toward zero like PyTorch's float-to-long conversion. */
function toInt64(value: number | bigint, name: string): bigint {
  if (typeof value === 'bigint') return value;
  if (!Number.isFinite(value)) throw new RangeError(`Expected finite numbers for ${name} of dtype int64 but received ${value}`);
  return BigInt(Math.trunc(value));
}

/** Host values for a factory: BigInt64Array for int64, else float32 (rounded to a half dtype by `placed`). */
function allocate(dtype: DType, n: number): Float32Array | BigInt64Array {
  return dtype === 'int64' ? new BigInt64Array(n) : new Float32Array(n);
}

function flatten(value: unknown, shape: number[], depth: number, out: unknown[]): void {
  if (Array.isArray(value)) {
    if (shape.length === depth) shape.push(value.length);
    else if (shape[depth] !== value.length) {
      throw new RangeError(`Expected a rectangular nested array for data but dimension ${depth} has lengths ${shape[depth]} and ${value.length}`);
    }
    for (const v of value) flatten(v, shape, depth + 1, out);
  } else {
    if (depth !== shape.length && out.length > 0) throw new RangeError('Expected a rectangular nested array for data but found a number where a list was expected');
    if (typeof value !== 'number' && typeof value !== 'bigint') {
      throw new TypeError(`Expected numbers in data but received ${describe(value)}`);
    }
    out.push(value);
  }
}

/**
 * A tensor from nested arrays (copied), or from a Float32Array/BigInt64Array (shared, not copied, on the CPU;
 * copied with `{ device: 'cuda' }`), e.g. `tensor([[1, 2], [3, 4]])` or `tensor(float32Array, [2, 3])`.
 */
export function tensor(data: NestedArray<number>, shape?: readonly number[], options?: TensorOptions<'float32'>): Tensor<'float32'>;
export function tensor(data: Float32Array, shape?: readonly number[], options?: TensorOptions<'float32'>): Tensor<'float32'>;
export function tensor(data: BigInt64Array, shape?: readonly number[], options?: TensorOptions<'int64'>): Tensor<'int64'>;
export function tensor(data: Uint16Array, shape: readonly number[] | undefined, options: TensorOptions<HalfDType>): Tensor<HalfDType>;
export function tensor<D extends DType>(data: NestedArray<number | bigint> | Float32Array | Uint16Array | BigInt64Array, shape: readonly number[] | undefined, options: TensorOptions<D>): Tensor<D>;
export function tensor(data: unknown, shape?: readonly number[], options?: TensorOptions): Tensor<DType> {
  const opts = checkOptions('tensor options', options, ['dtype', 'device']);
  if (opts.dtype !== undefined) checkOneOf('dtype', opts.dtype, DTYPES);
  if (data instanceof Uint16Array) {
    // raw float16/bfloat16 bits: the dtype says which; shared on the CPU, copied to a CUDA device
    if (opts.dtype !== 'float16' && opts.dtype !== 'bfloat16') {
      throw new TypeError(`Expected dtype 'float16' or 'bfloat16' for a Uint16Array of half-precision bits but received ${describe(opts.dtype)}`);
    }
    const { device } = factoryOptions('tensor', opts);
    const t = new Tensor(data, shape ?? [data.length], opts.dtype);
    return device === 'cpu' ? (t as AnyTensor) : (t.to(device) as AnyTensor);
  }
  if (data instanceof Float32Array || data instanceof BigInt64Array) {
    const kind = data instanceof BigInt64Array ? 'int64' : 'float32';
    const halfTarget = kind === 'float32' && (opts.dtype === 'float16' || opts.dtype === 'bfloat16');
    if (opts.dtype !== undefined && opts.dtype !== kind && !halfTarget) {
      throw new TypeError(`Expected dtype ${kind} for a ${data.constructor.name} but received ${opts.dtype}`);
    }
    const { dtype, device } = factoryOptions('tensor', { dtype: opts.dtype ?? kind, device: opts.device });
    // the array is shared on the CPU (converted into new memory for a half dtype), copied to a CUDA device
    if (halfTarget) return placed(data as Float32Array, shape ?? [data.length], device, dtype);
    const t = new Tensor(data as Float32Array, shape ?? [data.length]);
    return device === 'cpu' ? t : t.to(device);
  }
  const { dtype, device } = factoryOptions('tensor', options);
  if (typeof data !== 'number' && !Array.isArray(data)) {
    throw new TypeError(`Expected a nested array, number, Float32Array, Uint16Array or BigInt64Array for data but received ${describe(data)}`);
  }
  const inferred: number[] = [];
  const flat: unknown[] = [];
  flatten(data, inferred, 0, flat);
  const values = allocate(dtype, flat.length);
  flat.forEach((v, i) => {
    values[i] = (dtype === 'int64' ? toInt64(v as number | bigint, 'data') : Number(v)) as never;
  });
  const target = shape === undefined ? inferred : checkShape('shape', shape);
  return placed(values, target, device, dtype);
}

export interface FromBufferOptions {
  /** Where the tensor starts, in bytes from the start of `buffer` (default 0). */
  byteOffset?: number;
  dtype?: DType;
  /** Only 'cpu': the tensor shares the buffer's host memory (use `.to('cuda')` for a copy on the GPU). */
  device?: 'cpu';
}

/**
 * A float32 tensor over a Buffer's (or ArrayBuffer's) memory, without copying: writing one changes the other.
 * The data must start on a 4-byte boundary (8 for int64, 2 for float16/bfloat16) and the buffer must hold the
 * whole shape.
 */
export function fromBuffer(buffer: Buffer | Uint8Array | ArrayBuffer, shape: readonly number[], options?: FromBufferOptions): Tensor<'float32'>;
export function fromBuffer<D extends DType>(buffer: Buffer | Uint8Array | ArrayBuffer, shape: readonly number[], options: FromBufferOptions & { dtype: D }): Tensor<D>;
export function fromBuffer(buffer: unknown, shape: readonly number[], options?: FromBufferOptions): AnyTensor {
  const opts = checkOptions('fromBuffer options', options, ['byteOffset', 'dtype', 'device']);
  const dtype = opts.dtype === undefined ? 'float32' : checkOneOf('dtype', opts.dtype, DTYPES);
  if (opts.device !== undefined && parseDevice(opts.device) !== 'cpu') {
    throw new Error(
      `fromBuffer makes CPU tensors only (the tensor shares the buffer's host memory), so device ${describe(opts.device)} is not supported; ` +
        `copy it to the GPU with fromBuffer(buffer, shape).to(${describe(opts.device)})`,
    );
  }
  const dims = checkShape('shape', shape);
  const byteOffset = opts.byteOffset === undefined ? 0 : checkInteger('byteOffset', opts.byteOffset, { min: 0 });
  let arrayBuffer: ArrayBufferLike;
  let base: number;
  let available: number;
  if (buffer instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer)) {
    arrayBuffer = buffer;
    base = 0;
    available = buffer.byteLength;
  } else if (buffer instanceof Uint8Array) {
    arrayBuffer = buffer.buffer;
    base = buffer.byteOffset;
    available = buffer.byteLength;
  } else {
    throw new TypeError(`Expected a Buffer, Uint8Array or ArrayBuffer for buffer but received ${describe(buffer)}`);
  }
  const itemBytes = itemSize(dtype);
  const start = base + byteOffset;
  if (start % itemBytes !== 0) {
    throw new RangeError(
      `Expected ${dtype} data aligned to ${itemBytes} bytes but the tensor would start at byte ${start} of its ArrayBuffer ` +
        `(buffer.byteOffset ${base} + byteOffset ${byteOffset}); copy it into an aligned Buffer first`,
    );
  }
  const numel = numelOf(dims);
  const needed = byteOffset + numel * itemBytes;
  if (needed > available) {
    throw new RangeError(`Expected a buffer of at least ${needed} bytes for shape [${dims.join(', ')}] at byteOffset ${byteOffset} but received ${available} bytes`);
  }
  if (isHalfDType(dtype)) return new Tensor(new Uint16Array(arrayBuffer, start, numel), dims, dtype) as AnyTensor;
  const data = dtype === 'int64' ? new BigInt64Array(arrayBuffer, start, numel) : new Float32Array(arrayBuffer, start, numel);
  return new Tensor(data as Float32Array, dims) as AnyTensor;
}

/**
 * A new tensor of `shape` with element i = value(i), on the options' device. Constant fills (`constant` given)
 * happen on the device; other values are computed on the host and uploaded.
 */
function filled(fn: string, shape: readonly number[], options: unknown, value: (i: number) => number, constant?: number, dtypes?: readonly DType[]): AnyTensor {
  const { dtype, device } = factoryOptions(fn, options, ['dtype', 'device'], dtypes);
  const dims = checkShape('shape', shape);
  const n = numelOf(dims);
  checkTensorAllocation(`${fn}([${dims.join(', ')}])`, n, itemSize(dtype));
  if (device !== 'cpu' && constant !== undefined) return new Tensor(filledStorage(device, n, constant, dtype as FloatDType), dims) as AnyTensor;
  const data = allocate(dtype, n);
  for (let i = 0; i < data.length; i++) data[i] = (dtype === 'int64' ? toInt64(value(i), `${fn}'s value`) : value(i)) as never;
  return placed(data, dims, device, dtype);
}

export function zeros(shape: readonly number[]): Tensor<'float32'>;
export function zeros<D extends DType = 'float32'>(shape: readonly number[], options: TensorOptions<D>): Tensor<D>;
export function zeros(shape: readonly number[], options?: TensorOptions): AnyTensor {
  return filled('zeros', shape, options, () => 0, 0);
}

export function ones(shape: readonly number[]): Tensor<'float32'>;
export function ones<D extends DType = 'float32'>(shape: readonly number[], options: TensorOptions<D>): Tensor<D>;
export function ones(shape: readonly number[], options?: TensorOptions): AnyTensor {
  return filled('ones', shape, options, () => 1, 1);
}

export function full(shape: readonly number[], value: number): Tensor<'float32'>;
export function full<D extends DType = 'float32'>(shape: readonly number[], value: number, options: TensorOptions<D>): Tensor<D>;
export function full(shape: readonly number[], value: number, options?: TensorOptions): AnyTensor {
  if (typeof value !== 'number') throw new TypeError(`Expected number for fill value but received ${describe(value)}`);
  return filled('full', shape, options, () => value, value);
}

/**
 * Uniform on [0, 1) from the seeded generator (see `manualSeed`). On CUDA the values are drawn on the host from
 * the same generator and uploaded, so `rand(s, { device: 'cuda' })` holds what `rand(s)` would have.
 */
export function rand(shape: readonly number[], options?: DeviceOptions & { dtype?: 'float32' }): Tensor<'float32'>;
export function rand<D extends FloatDType>(shape: readonly number[], options: FloatTensorOptions<D>): Tensor<D>;
export function rand(shape: readonly number[], options?: FloatTensorOptions): AnyTensor {
  // in a half dtype, rounding a float32 draw could give 1.0; like PyTorch, draw on the type's own grid in [0, 1)
  // (multiples of 2^-11 for float16, 2^-8 for bfloat16: its mantissa digits)
  const dtype = (options as FloatTensorOptions | undefined)?.dtype;
  const digits = dtype === 'float16' ? 11 : dtype === 'bfloat16' ? 8 : 0;
  const draw = digits === 0 ? nextUniform : () => Math.floor(nextUniform() * 2 ** digits) / 2 ** digits;
  return filled('rand', shape, options, draw, undefined, FLOAT_DTYPES);
}

/** Standard normal from the seeded generator (see `manualSeed`); on CUDA drawn on the host like `rand`. */
export function randn(shape: readonly number[], options?: DeviceOptions & { dtype?: 'float32' }): Tensor<'float32'>;
export function randn<D extends FloatDType>(shape: readonly number[], options: FloatTensorOptions<D>): Tensor<D>;
export function randn(shape: readonly number[], options?: FloatTensorOptions): AnyTensor {
  return filled('randn', shape, options, nextNormal, undefined, FLOAT_DTYPES);
}
