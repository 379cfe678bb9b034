// Tensor: a shape over memory that is the tensor's own: a TypedArray in host memory (CPU tensors), or a
// DeviceBuffer on a CUDA device (CUDA tensors, float32 only). Native code reads and writes that memory in place,
// and `fromBuffer` shares a Node Buffer's memory, so nothing is copied between JS and C++.
import { DeviceBuffer, NativeStorage } from './binding';
import { checkInteger, checkOneOf, checkOptions, checkShape, describe } from './checks';
import {
  Device, DeviceLike, copyStorage, downloadStorage, filledStorage, freeStorage, isDeviceBuffer, parseDevice,
  requireCudaDevice, cudaIndex, storageDevice,
} from './cuda';
import { addSuffixes, formatTensor } from './format';
import { backward as runBackward } from './autograd/engine';
import { reshape as reshapeOp } from './autograd/ops';
import { type GradNode, recordNode } from './autograd/node';
import { nextNormal, nextUniform } from './random';
import { checkTensorAllocation } from './limits';

export type DType = 'float32' | 'int64';
export type { Device, DeviceLike };
export type DataFor<D extends DType> = D extends 'int64' ? BigInt64Array : Float32Array;
/** Nested arrays of numbers, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray<T> = T | NestedArray<T>[];
export type AnyTensor = Tensor<'float32'> | Tensor<'int64'>;

const DTYPES: readonly DType[] = ['float32', 'int64'];

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const DISPOSED = 'Tensor has been disposed; its data can no longer be used';

function int64OnCpuOnly(device: Device): Error {
  return new TypeError(`int64 tensors are CPU-only (they hold lengths and indices); cannot put one on ${device}`);
}

export class Tensor<D extends DType = 'float32'> {
  readonly shape: readonly number[];
  readonly dtype: D;
  readonly numel: number;
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
   * a native DeviceBuffer (a float32 CUDA tensor over it).
   */
  constructor(data: DataFor<D> | DeviceBuffer, shape: readonly number[], dtype?: D) {
    let inferred: D;
    if (isDeviceBuffer(data)) {
      if (data.freed) throw new Error('Expected a live DeviceBuffer for data but received a freed one');
      inferred = 'float32' as D;
      if (dtype !== undefined && dtype !== inferred) {
        throw new TypeError(`Expected dtype float32 for a DeviceBuffer (CUDA tensors are float32) but received ${dtype}`);
      }
    } else {
      if (!(data instanceof Float32Array) && !(data instanceof BigInt64Array)) {
        throw new TypeError(`Expected a Float32Array or BigInt64Array for data but received ${describe(data)}`);
      }
      inferred = (data instanceof BigInt64Array ? 'int64' : 'float32') as D;
      if (dtype !== undefined && dtype !== inferred) {
        throw new TypeError(`Expected ${dtype === 'int64' ? 'a BigInt64Array' : 'a Float32Array'} for data of dtype ${dtype} but received ${describe(data)}`);
      }
    }
    this.shape = Object.freeze(checkShape('shape', shape));
    this.numel = numelOf(this.shape);
    if (this.numel !== data.length) {
      throw new RangeError(`shape [${this.shape.join(', ')}] is invalid for input of size ${data.length}`);
    }
    this.dtype = inferred;
    this.#data = data;
    this.#device = storageDevice(data);
  }

  /** Whether operations on this tensor are recorded so that backward reaches it (like `requires_grad`). */
  get requiresGrad(): boolean {
    return this.#requiresGrad || this.gradFn !== null;
  }

  set requiresGrad(value: boolean) {
    if (typeof value !== 'boolean') throw new TypeError(`Expected boolean for requiresGrad but received ${describe(value)}`);
    if (value && this.dtype !== 'float32') throw new TypeError('only Tensors of floating point dtype can require gradients');
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
    return (isDeviceBuffer(storage) ? downloadStorage(storage) : storage) as DataFor<D>;
  }

  /**
   * Internal, for `Module.to` only: replaces the tensor's memory (and so its device) by `storage`, which holds
   * the same number of float32 values, keeping this Tensor object. The old device memory is freed; views made
   * earlier by `reshape` over it become unusable.
   */
  _replaceStorage(storage: NativeStorage): void {
    const old = this.storage();
    if (this.dtype !== 'float32') throw int64OnCpuOnly(storageDevice(storage));
    if (storage.length !== this.numel) throw new RangeError(`Expected storage of ${this.numel} elements but received ${storage.length}`);
    if (old === storage) return;
    this.#data = storage as DataFor<D>;
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

  /** Nested arrays (float32 as numbers, int64 as bigints), like `tensor.tolist()` (CUDA tensors are downloaded). */
  toArray(): NestedArray<D extends 'int64' ? bigint : number> {
    const data = this.hostData();
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return data[offset];
      const stride = numelOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0) as NestedArray<D extends 'int64' ? bigint : number>;
  }

  /** PyTorch's printed form: `tensor([[ 0.0620, -0.1000]])`, `tensor([1., 2.], device='cuda:0')`. */
  toString(): string {
    if (this.disposed) return 'tensor(<disposed>)';
    const text = formatTensor(this.hostData(), this.shape, this.dtype);
    if (this.#device === 'cpu') return text;
    const device = `device='${this.#device}'`;
    const indent = 'tensor('.length;
    // PyTorch puts the device before the size=(...) of an empty tensor
    if (this.numel === 0) return addSuffixes('tensor([]', [device, ...(this.ndim !== 1 ? [`size=(${this.shape.join(', ')})`] : [])], indent);
    return addSuffixes(text.slice(0, -1), [device], indent);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** A copy with memory of its own, on the same device. */
  clone(): Tensor<D> {
    const storage = this.storage();
    if (isDeviceBuffer(storage)) return new Tensor<D>(copyStorage(storage, this.#device) as DeviceBuffer, this.shape, this.dtype);
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
   * The tensor on `device` ('cpu', 'cuda' = 'cuda:0', 'cuda:N'): the tensor itself when it is already there
   * (like PyTorch), else a copy there. int64 tensors stay on the CPU.
   */
  to(device: DeviceLike): Tensor<D> {
    const target = parseDevice(device);
    const storage = this.storage();
    if (target === this.#device) return this;
    if (this.dtype !== 'float32') throw int64OnCpuOnly(target);
    if (target !== 'cpu') requireCudaDevice(cudaIndex(target));
    checkTensorAllocation(`to('${target}') of a [${this.shape.join(', ')}] tensor`, this.numel);
    const moved = new Tensor<D>(copyStorage(storage as NativeStorage, target) as DataFor<D> | DeviceBuffer, this.shape, this.dtype);
    // differentiable like PyTorch's: the gradient goes back to this tensor's device (the engine moves it)
    if (this.dtype === 'float32') recordNode(moved as unknown as Tensor, 'ToCopyBackward0', [this], (g) => [g], false);
    return moved;
  }

  /** `to('cuda:<index>')`. */
  cuda(index = 0): Tensor<D> {
    return this.to(`cuda:${checkInteger('index', index, { min: 0 })}`);
  }

  /** `to('cpu')`. */
  cpu(): Tensor<D> {
    return this.to('cpu');
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

function inferShape(dims: unknown[], numel: number): number[] {
  let unknown = -1;
  let known = 1;
  dims.forEach((d, i) => {
    if (d === -1 && unknown < 0) unknown = i;
    else known *= checkInteger(`shape[${i}]`, d, { min: 0 });
  });
  const shape = dims.slice() as number[];
  if (unknown >= 0) {
    if (known === 0 || numel % known !== 0) throw new RangeError(`shape [${dims.join(', ')}] is invalid for input of size ${numel}`);
    shape[unknown] = numel / known;
  }
  if (numelOf(shape) !== numel) throw new RangeError(`shape [${dims.join(', ')}] is invalid for input of size ${numel}`);
  return shape;
}

export function isTensor(value: unknown): value is AnyTensor {
  return value instanceof Tensor;
}

/** A usable float32 tensor, or a TypeError/Error naming the argument. */
export function checkTensor(name: string, value: unknown): Tensor<'float32'> {
  if (!(value instanceof Tensor)) throw new TypeError(`Expected a Tensor for ${name} but received ${describe(value)}`);
  if (value.disposed) throw new Error(`${name} is a disposed Tensor; it can no longer be used`);
  if (value.dtype !== 'float32') {
    throw new TypeError(`Expected a float32 Tensor for ${name} but received dtype ${value.dtype} (only float32 is supported here)`);
  }
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

/** Validated dtype and device of a factory's options; a CUDA device is checked to be usable. */
function factoryOptions(fn: string, options: unknown, keys: readonly string[] = ['dtype', 'device']): { dtype: DType; device: Device } {
  const opts = checkOptions(`${fn} options`, options, keys);
  const dtype = opts.dtype === undefined ? 'float32' : checkOneOf('dtype', opts.dtype, DTYPES);
  const device = opts.device === undefined ? 'cpu' : parseDevice(opts.device);
  if (device !== 'cpu') {
    if (dtype !== 'float32') throw int64OnCpuOnly(device);
    requireCudaDevice(cudaIndex(device));
  }
  return { dtype, device };
}

/** A tensor over `host`'s values on `device` (shared on the CPU, uploaded to CUDA; int64 stays on the CPU). */
function placed(host: Float32Array | BigInt64Array, shape: readonly number[], device: Device): AnyTensor {
  if (device === 'cpu' || host instanceof BigInt64Array) return new Tensor(host as Float32Array, shape) as AnyTensor;
  return new Tensor<'float32'>(copyStorage(host, device) as DeviceBuffer, shape);
}

/** An int64 element from a number, truncated toward zero like PyTorch's float-to-long conversion. */
function toInt64(value: number | bigint, name: string): bigint {
  if (typeof value === 'bigint') return value;
  if (!Number.isFinite(value)) throw new RangeError(`Expected finite numbers for ${name} of dtype int64 but received ${value}`);
  return BigInt(Math.trunc(value));
}

function allocate<D extends DType>(dtype: D, n: number): DataFor<D> {
  return (dtype === 'int64' ? new BigInt64Array(n) : new Float32Array(n)) as DataFor<D>;
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
export function tensor<D extends DType>(data: NestedArray<number | bigint> | Float32Array | BigInt64Array, shape: readonly number[] | undefined, options: TensorOptions<D>): Tensor<D>;
export function tensor(data: unknown, shape?: readonly number[], options?: TensorOptions): AnyTensor {
  const opts = checkOptions('tensor options', options, ['dtype', 'device']);
  if (opts.dtype !== undefined) checkOneOf('dtype', opts.dtype, DTYPES);
  if (data instanceof Float32Array || data instanceof BigInt64Array) {
    const kind = data instanceof BigInt64Array ? 'int64' : 'float32';
    if (opts.dtype !== undefined && opts.dtype !== kind) {
      throw new TypeError(`Expected dtype ${kind} for a ${data.constructor.name} but received ${opts.dtype}`);
    }
    const { device } = factoryOptions('tensor', { dtype: kind, device: opts.device });
    // the array is shared on the CPU, copied to a CUDA device
    const t = new Tensor(data as Float32Array, shape ?? [data.length]);
    return device === 'cpu' ? t : t.to(device);
  }
  const { dtype, device } = factoryOptions('tensor', options);
  if (typeof data !== 'number' && !Array.isArray(data)) {
    throw new TypeError(`Expected a nested array, number, Float32Array or BigInt64Array for data but received ${describe(data)}`);
  }
  const inferred: number[] = [];
  const flat: unknown[] = [];
  flatten(data, inferred, 0, flat);
  const values = allocate(dtype, flat.length);
  flat.forEach((v, i) => {
    values[i] = (dtype === 'int64' ? toInt64(v as number | bigint, 'data') : Number(v)) as never;
  });
  const target = shape === undefined ? inferred : checkShape('shape', shape);
  return placed(values, target, device);
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
 * The data must start on a 4-byte boundary (8 for int64) and the buffer must hold the whole shape.
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
  const itemSize = dtype === 'int64' ? 8 : 4;
  const start = base + byteOffset;
  if (start % itemSize !== 0) {
    throw new RangeError(
      `Expected ${dtype} data aligned to ${itemSize} bytes but the tensor would start at byte ${start} of its ArrayBuffer ` +
        `(buffer.byteOffset ${base} + byteOffset ${byteOffset}); copy it into an aligned Buffer first`,
    );
  }
  const numel = numelOf(dims);
  const needed = byteOffset + numel * itemSize;
  if (needed > available) {
    throw new RangeError(`Expected a buffer of at least ${needed} bytes for shape [${dims.join(', ')}] at byteOffset ${byteOffset} but received ${available} bytes`);
  }
  const data = dtype === 'int64' ? new BigInt64Array(arrayBuffer, start, numel) : new Float32Array(arrayBuffer, start, numel);
  return new Tensor(data as Float32Array, dims) as AnyTensor;
}

/**
 * A new tensor of `shape` with element i = value(i), on the options' device. Constant fills (`constant` given)
 * happen on the device; other values are computed on the host and uploaded.
 */
function filled(fn: string, shape: readonly number[], options: unknown, value: (i: number) => number, constant?: number, keys?: readonly string[]): AnyTensor {
  const { dtype, device } = factoryOptions(fn, options, keys);
  const dims = checkShape('shape', shape);
  const n = numelOf(dims);
  checkTensorAllocation(`${fn}([${dims.join(', ')}])`, n, dtype === 'int64' ? 8 : 4);
  if (device !== 'cpu' && constant !== undefined) return new Tensor<'float32'>(filledStorage(device, n, constant), dims);
  const data = allocate(dtype, n);
  for (let i = 0; i < data.length; i++) data[i] = (dtype === 'int64' ? toInt64(value(i), `${fn}'s value`) : value(i)) as never;
  return placed(data, dims, device);
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
export function rand(shape: readonly number[], options?: DeviceOptions): Tensor<'float32'> {
  return filled('rand', shape, options, nextUniform, undefined, ['device']) as Tensor<'float32'>;
}

/** Standard normal from the seeded generator (see `manualSeed`); on CUDA drawn on the host like `rand`. */
export function randn(shape: readonly number[], options?: DeviceOptions): Tensor<'float32'> {
  return filled('randn', shape, options, nextNormal, undefined, ['device']) as Tensor<'float32'>;
}
