// Tensor: a shape over memory that is the tensor's own: a TypedArray in host memory (CPU tensors), or a
// DeviceBuffer on a CUDA device (CUDA tensors: float32, float16 or bfloat16). Native code reads and writes that
// memory in place, and `fromBuffer` shares a Node Buffer's memory, so nothing is copied between JS and C++.
// float16/bfloat16 host memory is a Uint16Array of the raw bits (lib/half.ts converts).
//
// This module is the bottom of lib/: it imports nothing of autograd. The differentiable methods (`add`, `reshape`,
// `backward`, ...) and the recording of `to` are attached by lib/autograd/tensor-methods.ts, which lib/index.ts
// loads; the factories (`tensor`, `zeros`, ...) are in lib/factories.ts.
import { DeviceBuffer, FloatStorage, NativeStorage } from './binding';
import { checkInteger, checkOneOf, checkOptions, checkShape, describe } from './checks';
import {
  Device, DeviceLike, bufferDType, convertStorage, copyStorage, downloadRaw, freeStorage, isDeviceBuffer,
  parseDevice, requireCudaDevice, cudaIndex, storageDevice,
} from './cuda';
import { FloatDType, HalfDType, fromHalfArray, isHalfDType } from './half';
import { formatTensor } from './format';
import { checkTensorAllocation } from './limits';
import { numel } from './shape';

export type DType = 'float32' | 'float16' | 'bfloat16' | 'int64';
export type { Device, DeviceLike, FloatDType, HalfDType };
/** The host memory of each dtype: float16 and bfloat16 as their raw bits (use `toArray()` for the values). */
export type DataFor<D extends DType> = D extends 'int64' ? BigInt64Array : D extends HalfDType ? Uint16Array : Float32Array;
/** Nested arrays of numbers, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray<T> = T | NestedArray<T>[];
export type AnyTensor = Tensor<'float32'> | Tensor<'float16'> | Tensor<'bfloat16'> | Tensor<'int64'>;

export const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'int64'];
export const FLOAT_DTYPES: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];

/** Bytes per element. */
export function itemSize(dtype: DType): number {
  return dtype === 'int64' ? 8 : dtype === 'float32' ? 4 : 2;
}

const DISPOSED = 'Tensor has been disposed; its data can no longer be used';

export function int64OnCpuOnly(device: Device): Error {
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

/**
 * A recorded operation (the `gradFn` of its outputs): which tensors it read and how to turn gradients of its
 * outputs into theirs. Declared here, beside Tensor, because each refers to the other; lib/autograd records them.
 */
export interface GradNode {
  readonly name: string;
  /** The inputs that gradients flow to, in the order `backward` returns them (null: no gradient needed). */
  readonly inputs: readonly (Tensor | null)[];
  readonly outputCount: number;
  /**
   * Where `backward` wants its gradients ('cpu' when absent: Float32Arrays); the engine moves them there. The
   * gradients it returns may be on any device: the engine moves each to where its consumer wants it.
   */
  readonly device?: Device;
  /** Gradients of the inputs from those of the outputs (null where no gradient reached an output). */
  backward(gradOutputs: readonly (NativeStorage | null)[]): (NativeStorage | null)[];
  /** Frees what the node saved; called once backward has used it. */
  release(): void;
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
    this.numel = numel(this.shape);
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
      const stride = numel(this.shape.slice(dim + 1));
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

  /**
   * The tensor on `device` ('cpu', 'cuda' = 'cuda:0', 'cuda:N') and/or of a floating `dtype` ('float32',
   * 'float16', 'bfloat16'), like PyTorch's `to`: `to(device)`, `to(dtype)`, `to(device, dtype)` or
   * `to({ device, dtype })`. Returns the tensor itself when nothing changes, else a copy. int64 tensors stay on
   * the CPU and keep their dtype. A device move of a float32 tensor is differentiable (lib/autograd/tensor-methods.ts
   * records it); a dtype conversion is not recorded (its result is outside the graph).
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
    return new Tensor<D>(copyStorage(storage as FloatStorage, target, this.dtype as FloatDType) as DataFor<D> | DeviceBuffer, this.shape, this.dtype) as unknown as AnyTensor;
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
