// Tensor: a shape over a TypedArray that is the tensor's own memory. Native code reads and writes that
// memory in place, and `fromBuffer` shares a Node Buffer's memory, so nothing is copied between JS and C++.
import { checkInteger, checkOneOf, checkOptions, checkShape, describe } from './checks';
import { formatTensor } from './format';
import { nextNormal, nextUniform } from './random';

export type DType = 'float32' | 'int64';
export type Device = 'cpu';
export type DataFor<D extends DType> = D extends 'int64' ? BigInt64Array : Float32Array;
/** Nested arrays of numbers, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray<T> = T | NestedArray<T>[];
export type AnyTensor = Tensor<'float32'> | Tensor<'int64'>;

const DTYPES: readonly DType[] = ['float32', 'int64'];

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class Tensor<D extends DType = 'float32'> {
  readonly shape: readonly number[];
  readonly dtype: D;
  readonly device: Device = 'cpu';
  readonly numel: number;
  #data: DataFor<D> | null;

  /** Wraps `data` without copying; prefer the factories (`tensor`, `zeros`, `fromBuffer`, ...). */
  constructor(data: DataFor<D>, shape: readonly number[], dtype?: D) {
    const inferred = (data instanceof BigInt64Array ? 'int64' : 'float32') as D;
    if (!(data instanceof Float32Array) && !(data instanceof BigInt64Array)) {
      throw new TypeError(`Expected a Float32Array or BigInt64Array for data but received ${describe(data)}`);
    }
    if (dtype !== undefined && dtype !== inferred) {
      throw new TypeError(`Expected ${dtype === 'int64' ? 'a BigInt64Array' : 'a Float32Array'} for data of dtype ${dtype} but received ${describe(data)}`);
    }
    this.shape = Object.freeze(checkShape('shape', shape));
    this.numel = numelOf(this.shape);
    if (this.numel !== data.length) {
      throw new RangeError(`shape [${this.shape.join(', ')}] is invalid for input of size ${data.length}`);
    }
    this.dtype = inferred;
    this.#data = data;
  }

  /** The tensor's memory (no copy). Throws once the tensor is disposed. */
  get data(): DataFor<D> {
    if (this.#data === null) throw new Error('Tensor has been disposed; its data can no longer be used');
    return this.#data;
  }

  get disposed(): boolean {
    return this.#data === null;
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

  /** Nested arrays (float32 as numbers, int64 as bigints), like `tensor.tolist()`. */
  toArray(): NestedArray<D extends 'int64' ? bigint : number> {
    const data = this.data;
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return data[offset];
      const stride = numelOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0) as NestedArray<D extends 'int64' ? bigint : number>;
  }

  /** PyTorch's printed form: `tensor([[ 0.0620, -0.1000]])`. */
  toString(): string {
    if (this.#data === null) return 'tensor(<disposed>)';
    return formatTensor(this.#data, this.shape, this.dtype);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** A copy with memory of its own. */
  clone(): Tensor<D> {
    return new Tensor<D>(this.data.slice() as DataFor<D>, this.shape, this.dtype);
  }

  /** Tensors here are always contiguous, so this returns the tensor itself, as PyTorch does for contiguous ones. */
  contiguous(): Tensor<D> {
    this.data;
    return this;
  }

  /** A view with another shape over the same memory; one dimension may be -1. */
  reshape(...shape: number[] | [number[]]): Tensor<D> {
    const dims = (Array.isArray(shape[0]) ? shape[0] : shape) as number[];
    return new Tensor<D>(this.data, inferShape(dims, this.numel), this.dtype);
  }

  /** Same as `reshape` (every tensor is contiguous, so every reshape is a view). */
  view(...shape: number[] | [number[]]): Tensor<D> {
    return this.reshape(...shape);
  }

  /** Drops this handle's reference to the memory; later use throws. Views made earlier keep theirs. */
  dispose(): void {
    this.#data = null;
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
}

function dtypeOption<D extends DType>(fn: string, options: unknown): D {
  const opts = checkOptions(`${fn} options`, options, ['dtype']);
  return (opts.dtype === undefined ? 'float32' : checkOneOf('dtype', opts.dtype, DTYPES)) as D;
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
 * A tensor from nested arrays (copied), or from a Float32Array/BigInt64Array (shared, not copied),
 * e.g. `tensor([[1, 2], [3, 4]])` or `tensor(float32Array, [2, 3])`.
 */
export function tensor(data: NestedArray<number>, shape?: readonly number[]): Tensor<'float32'>;
export function tensor(data: Float32Array, shape?: readonly number[]): Tensor<'float32'>;
export function tensor(data: BigInt64Array, shape?: readonly number[]): Tensor<'int64'>;
export function tensor<D extends DType>(data: NestedArray<number | bigint> | Float32Array | BigInt64Array, shape: readonly number[] | undefined, options: TensorOptions<D>): Tensor<D>;
export function tensor(data: unknown, shape?: readonly number[], options?: TensorOptions): AnyTensor {
  const dtype = dtypeOption<DType>('tensor', options);
  if (data instanceof Float32Array || data instanceof BigInt64Array) {
    const kind = data instanceof BigInt64Array ? 'int64' : 'float32';
    if (options?.dtype !== undefined && options.dtype !== kind) {
      throw new TypeError(`Expected dtype ${kind} for a ${data.constructor.name} but received ${options.dtype}`);
    }
    return new Tensor(data as Float32Array, shape ?? [data.length]) as AnyTensor;
  }
  if (typeof data !== 'number' && !Array.isArray(data)) {
    throw new TypeError(`Expected a nested array, number, Float32Array or BigInt64Array for data but received ${describe(data)}`);
  }
  const inferred: number[] = [];
  const flat: unknown[] = [];
  flatten(data, inferred, 0, flat);
  const values = allocate(dtype, flat.length);
  flat.forEach((v, i) => {
    values[i] = (dtype === 'int64' ? BigInt(v as number) : Number(v)) as never;
  });
  const target = shape === undefined ? inferred : checkShape('shape', shape);
  return new Tensor(values as Float32Array, target) as AnyTensor;
}

export interface FromBufferOptions {
  /** Where the tensor starts, in bytes from the start of `buffer` (default 0). */
  byteOffset?: number;
  dtype?: DType;
}

/**
 * A float32 tensor over a Buffer's (or ArrayBuffer's) memory, without copying: writing one changes the other.
 * The data must start on a 4-byte boundary (8 for int64) and the buffer must hold the whole shape.
 */
export function fromBuffer(buffer: Buffer | Uint8Array | ArrayBuffer, shape: readonly number[], options?: FromBufferOptions): Tensor<'float32'>;
export function fromBuffer<D extends DType>(buffer: Buffer | Uint8Array | ArrayBuffer, shape: readonly number[], options: FromBufferOptions & { dtype: D }): Tensor<D>;
export function fromBuffer(buffer: unknown, shape: readonly number[], options?: FromBufferOptions): AnyTensor {
  const opts = checkOptions('fromBuffer options', options, ['byteOffset', 'dtype']);
  const dtype = opts.dtype === undefined ? 'float32' : checkOneOf('dtype', opts.dtype, DTYPES);
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

function filled(fn: string, shape: readonly number[], options: TensorOptions | undefined, value: (i: number) => number): AnyTensor {
  const dtype = dtypeOption<DType>(fn, options);
  const dims = checkShape('shape', shape);
  const data = allocate(dtype, numelOf(dims));
  for (let i = 0; i < data.length; i++) data[i] = (dtype === 'int64' ? BigInt(Math.trunc(value(i))) : value(i)) as never;
  return new Tensor(data as Float32Array, dims) as AnyTensor;
}

export function zeros(shape: readonly number[]): Tensor<'float32'>;
export function zeros<D extends DType>(shape: readonly number[], options: TensorOptions<D>): Tensor<D>;
export function zeros(shape: readonly number[], options?: TensorOptions): AnyTensor {
  return filled('zeros', shape, options, () => 0);
}

export function ones(shape: readonly number[]): Tensor<'float32'>;
export function ones<D extends DType>(shape: readonly number[], options: TensorOptions<D>): Tensor<D>;
export function ones(shape: readonly number[], options?: TensorOptions): AnyTensor {
  return filled('ones', shape, options, () => 1);
}

export function full(shape: readonly number[], value: number): Tensor<'float32'>;
export function full<D extends DType>(shape: readonly number[], value: number, options: TensorOptions<D>): Tensor<D>;
export function full(shape: readonly number[], value: number, options?: TensorOptions): AnyTensor {
  if (typeof value !== 'number') throw new TypeError(`Expected number for fill value but received ${describe(value)}`);
  return filled('full', shape, options, () => value);
}

/** Uniform on [0, 1) from the seeded generator (see `manualSeed`). */
export function rand(shape: readonly number[]): Tensor<'float32'> {
  return filled('rand', shape, undefined, nextUniform) as Tensor<'float32'>;
}

/** Standard normal from the seeded generator (see `manualSeed`). */
export function randn(shape: readonly number[]): Tensor<'float32'> {
  return filled('randn', shape, undefined, nextNormal) as Tensor<'float32'>;
}
