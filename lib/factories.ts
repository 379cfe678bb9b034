// The tensor factories, like PyTorch's creation ops: `tensor` (from nested arrays or typed arrays), `fromBuffer`
// (shares a Buffer's memory), `zeros`, `ones`, `full`, and the seeded random `rand` and `randn`, each on a device
// and of a dtype given in its options.
import { DeviceBuffer } from './binding';
import { checkInteger, checkOneOf, checkOptions, checkShape, describe } from './checks';
import { Device, DeviceLike, copyStorage, cudaIndex, filledStorage, parseDevice, requireCudaDevice } from './cuda';
import { FloatDType, HalfDType, isHalfDType, toHalfArray } from './half';
import { checkTensorAllocation } from './limits';
import { nextNormal, nextUniform } from './random';
import { numel } from './shape';
import { AnyTensor, DTYPES, DType, FLOAT_DTYPES, NestedArray, Tensor, int64OnCpuOnly, itemSize } from './tensor';

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
  const count = numel(dims);
  const needed = byteOffset + count * itemBytes;
  if (needed > available) {
    throw new RangeError(`Expected a buffer of at least ${needed} bytes for shape [${dims.join(', ')}] at byteOffset ${byteOffset} but received ${available} bytes`);
  }
  if (isHalfDType(dtype)) return new Tensor(new Uint16Array(arrayBuffer, start, count), dims, dtype) as AnyTensor;
  const data = dtype === 'int64' ? new BigInt64Array(arrayBuffer, start, count) : new Float32Array(arrayBuffer, start, count);
  return new Tensor(data as Float32Array, dims) as AnyTensor;
}

/**
 * A new tensor of `shape` with element i = value(i), on the options' device. Constant fills (`constant` given)
 * happen on the device; other values are computed on the host and uploaded.
 */
function filled(fn: string, shape: readonly number[], options: unknown, value: (i: number) => number, constant?: number, dtypes?: readonly DType[]): AnyTensor {
  const { dtype, device } = factoryOptions(fn, options, ['dtype', 'device'], dtypes);
  const dims = checkShape('shape', shape);
  const n = numel(dims);
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
