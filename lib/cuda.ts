// CUDA devices: availability (with errors that say how to fix a missing build or driver), device strings,
// and the storage helpers the tensors and modules use to move memory between the host and the GPUs.
// The public part is the `cuda` object and the matmul precision setting; the rest is internal to lib/.
import { DeviceBuffer, DeviceDType, Float32MatmulPrecision, FloatStorage, NativeStorage, native } from './binding';
import { FloatDType, convertHostFloats } from './half';
import { checkInteger, checkOneOf, describe } from './checks';
import { checkTensorAllocation } from './limits';

/** Where a tensor's memory lives: host memory, or the CUDA device with that index. */
export type Device = 'cpu' | `cuda:${number}`;
/** What device arguments accept: a `Device`, or `'cuda'` for the current (first) CUDA device, `'cuda:0'`. */
export type DeviceLike = Device | 'cuda';

export { DeviceBuffer, Float32MatmulPrecision };

const REBUILD = 'Rebuild with CUDA: install the CUDA toolkit with cuBLAS and run `npm run build:native -- --CDRNN_CUDA=ON`';

let buildInfoCache: { built: boolean; reason: string } | undefined;

/** Whether the addon was compiled with CUDA, and if not why (internal; `cuda.isAvailable()` is the public question). */
export function cudaBuildInfo(): { built: boolean; reason: string } {
  if (buildInfoCache === undefined) {
    const info = native.cudaBuildInfo();
    buildInfoCache = { built: info.built === true, reason: String(info.reason ?? '') };
  }
  return buildInfoCache;
}

function nativeDeviceCount(): number {
  if (!cudaBuildInfo().built) return 0;
  const n = native.cudaDeviceCount();
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** Throws unless CUDA device `index` can be used, saying which of build, driver or index is the problem. */
export function requireCudaDevice(index: number): void {
  const info = cudaBuildInfo();
  if (!info.built) {
    throw new Error(`node-rnn was built without CUDA${info.reason ? ` (${info.reason})` : ''}. ${REBUILD}`);
  }
  const count = nativeDeviceCount();
  if (count === 0) {
    const driver = native.cudaDriverError();
    throw new Error(`CUDA is not available: ${driver || 'no CUDA device was found'}. Check the NVIDIA driver (nvidia-smi)`);
  }
  if (index >= count) throw new RangeError(`CUDA device ${index} requested but only ${count} device(s) found`);
}

/** Parses 'cpu', 'cuda' (= 'cuda:0') or 'cuda:N'; a TypeError for non-strings, a RangeError for other strings. */
export function parseDevice(value: unknown, name = 'device'): Device {
  if (typeof value !== 'string') {
    throw new TypeError(`Expected a device ('cpu', 'cuda' or 'cuda:N') for ${name} but received ${describe(value)}`);
  }
  if (value === 'cpu') return 'cpu';
  if (value === 'cuda') return 'cuda:0';
  const m = /^cuda:(\d+)$/.exec(value);
  if (m === null || !Number.isSafeInteger(Number(m[1]))) {
    throw new RangeError(`Expected a device ('cpu', 'cuda' or 'cuda:N' with N a non-negative integer) for ${name} but received ${describe(value)}`);
  }
  return `cuda:${Number(m[1])}`;
}

/** The CUDA device index of `device`, or -1 for the CPU. */
export function cudaIndex(device: Device): number {
  return device === 'cpu' ? -1 : Number(device.slice(5));
}

/** `parseDevice`, then for a CUDA device `requireCudaDevice`: a device that can be used now. */
export function resolveDevice(value: unknown, name = 'device'): Device {
  const device = parseDevice(value, name);
  if (device !== 'cpu') requireCudaDevice(cudaIndex(device));
  return device;
}

/** Whether `value` is a native DeviceBuffer (live or freed). */
export function isDeviceBuffer(value: unknown): value is DeviceBuffer {
  const ctor = (native as unknown as { DeviceBuffer?: unknown }).DeviceBuffer;
  if (typeof ctor === 'function') return value instanceof (ctor as new () => DeviceBuffer);
  // no class exported: recognise the shape
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.free === 'function' && typeof v.device === 'number' && typeof v.length === 'number' && typeof v.freed === 'boolean';
}

/** The device that holds `storage`. */
export function storageDevice(storage: FloatStorage | BigInt64Array): Device {
  return isDeviceBuffer(storage) ? `cuda:${storage.device}` : 'cpu';
}

/**
 * Memory for results that native code writes in full before anyone reads them (a forward's output and final
 * states): on the CPU not zero-filled first (a Float32Array of n elements is zeroed by V8, 6.5 MB a call at
 * LSTM 100 x 64 x 256: ~2% of an int8 forward went to that memset), elsewhere as allocStorage.
 */
export function allocResultStorage(device: Device, elements: number, dtype: FloatDType = 'float32'): FloatStorage {
  if (device !== 'cpu' || elements === 0) return allocStorage(device, elements, dtype);
  const size = dtype === 'float32' ? 4 : 2;
  checkTensorAllocation(`a buffer of ${elements} ${dtype} on ${device}`, elements, size);
  const bytes = Buffer.allocUnsafeSlow(elements * size);
  if (resultPoison) bytes.fill(0xff); // NaN in both float32 and 16-bit halves
  return dtype === 'float32' ? new Float32Array(bytes.buffer, bytes.byteOffset, elements) : new Uint16Array(bytes.buffer, bytes.byteOffset, elements);
}

let resultPoison = false;
/** Tests only: allocResultStorage fills its memory with NaN, so that an element the forward leaves unwritten shows. */
export function setResultPoison(on: boolean): void {
  resultPoison = on;
}

/** The element type of a DeviceBuffer. */
export function bufferDType(buffer: DeviceBuffer): DeviceDType {
  return buffer.dtype;
}

/** Uninitialised float32 memory on `device`: a Float32Array (zeros) on the CPU, a DeviceBuffer on CUDA. */
export function allocStorage(device: Device, elements: number): NativeStorage;
/** Uninitialised memory of `dtype` (a Uint16Array of bits on the CPU for float16/bfloat16). */
export function allocStorage(device: Device, elements: number, dtype: FloatDType): FloatStorage;
export function allocStorage(device: Device, elements: number, dtype: FloatDType = 'float32'): FloatStorage {
  checkTensorAllocation(`a buffer of ${elements} ${dtype} on ${device}`, elements, dtype === 'float32' ? 4 : 2);
  if (device === 'cpu') return dtype === 'float32' ? new Float32Array(elements) : new Uint16Array(elements);
  return dtype === 'float32' ? native.cudaAlloc(cudaIndex(device), elements) : native.cudaAlloc(cudaIndex(device), elements, dtype);
}

/** The element type of tensor memory: float32 for a Float32Array, the buffer's own for a DeviceBuffer; host half bits need `hostHalf`. */
function storageDType(storage: FloatStorage, hostHalf?: FloatDType): FloatDType {
  if (isDeviceBuffer(storage)) return bufferDType(storage);
  if (storage instanceof Uint16Array) {
    if (hostHalf === undefined || hostHalf === 'float32') throw new TypeError('a Uint16Array holds float16 or bfloat16 bits: its dtype must be given');
    return hostHalf;
  }
  return 'float32';
}

/**
 * Tensor memory of dtype `from` as dtype `to` on `device` (always new memory). The conversion runs where the
 * data is going: on the host before an upload, on the GPU after a device copy (cudaConvert).
 */
export function convertStorage(source: FloatStorage, from: FloatDType, to: FloatDType, device: Device): FloatStorage {
  if (storageDType(source, from) !== from) throw new TypeError(`convertStorage: the memory holds ${storageDType(source, from)}, not ${from}`);
  if (from === to) return copyStorage(source as NativeStorage, device);
  if (device === 'cpu') {
    const host = isDeviceBuffer(source) ? downloadRaw(source) : source;
    return convertHostFloats(host as Float32Array | Uint16Array, from, to);
  }
  if (!isDeviceBuffer(source)) return copyStorage(convertHostFloats(source as Float32Array | Uint16Array, from, to), device, to);
  const onDevice = storageDevice(source) === device ? source : (copyStorage(source, device) as DeviceBuffer);
  const target = native.cudaAlloc(cudaIndex(device), source.length, to);
  try {
    if (source.length > 0) native.cudaConvert(target, onDevice);
  } catch (e) {
    target.free();
    throw e;
  } finally {
    if (onDevice !== source) onDevice.free();
  }
  return target;
}

/** A copy of `source` on `device` (a new Float32Array or DeviceBuffer; never `source` itself), same dtype. */
export function copyStorage(source: NativeStorage, device: Device): NativeStorage;
/** `hostHalf`: what the bits of a host Uint16Array are (float16 or bfloat16), which only the Tensor knows. */
export function copyStorage(source: FloatStorage, device: Device, hostHalf?: FloatDType): FloatStorage;
export function copyStorage(source: FloatStorage, device: Device, hostHalf?: FloatDType): FloatStorage {
  if (device === 'cpu') {
    if (!isDeviceBuffer(source)) return source.slice();
    return downloadRaw(source);
  }
  const dtype: DeviceDType = isDeviceBuffer(source) ? bufferDType(source) : storageDType(source, hostHalf);
  const target = dtype === 'float32' ? native.cudaAlloc(cudaIndex(device), source.length)
    : native.cudaAlloc(cudaIndex(device), source.length, dtype);
  try {
    copyInto(target, source);
  } catch (e) {
    target.free();
    throw e;
  }
  return target;
}

/** Copies `source` into `target` (same length and element size; any devices). */
export function copyInto(target: FloatStorage, source: FloatStorage): void {
  if (target === source || source.length === 0) return;
  if (isDeviceBuffer(target)) {
    if (isDeviceBuffer(source)) native.cudaCopy(target, source);
    else native.cudaUpload(target, source);
  } else if (isDeviceBuffer(source)) {
    native.cudaDownload(target, source);
  } else {
    target.set(source);
  }
}

/** The contents of a DeviceBuffer in a new host array: a Float32Array, or a Uint16Array of float16/bfloat16 bits. */
export function downloadRaw(source: DeviceBuffer): Float32Array | Uint16Array {
  const out = bufferDType(source) === 'float32' ? new Float32Array(source.length) : new Uint16Array(source.length);
  if (out.length > 0) native.cudaDownload(out, source);
  return out;
}

/** A DeviceBuffer on `device` with `value` (rounded to `dtype`) in every element. */
export function filledStorage(device: Device, elements: number, value: number, dtype: FloatDType = 'float32'): DeviceBuffer {
  const buffer = dtype === 'float32' ? native.cudaAlloc(cudaIndex(device), elements) : native.cudaAlloc(cudaIndex(device), elements, dtype);
  try {
    if (elements > 0) native.cudaFill(buffer, value);
  } catch (e) {
    buffer.free();
    throw e;
  }
  return buffer;
}

/**
 * C = alpha op(A) op(B) + beta C on one device, row-major, with cuBLAS (TF32 when the precision is 'high'); returns
 * after the product is done. Internal: the benchmark's GEMM ceiling.
 */
export function cudaSgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: DeviceBuffer,
  lda: number, B: DeviceBuffer, ldb: number, beta: number, C: DeviceBuffer, ldc: number): void {
  native.cudaSgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/** target[i] += source[i]; same length and device (gradient accumulation). */
export function addInto(target: NativeStorage, source: NativeStorage): void {
  if (target.length !== source.length) throw new RangeError(`addInto: lengths differ (${target.length} and ${source.length})`);
  if (isDeviceBuffer(target) && isDeviceBuffer(source)) {
    native.cudaAdd(target, source);
  } else if (!isDeviceBuffer(target) && !isDeviceBuffer(source)) {
    for (let i = 0; i < target.length; i++) target[i] += source[i];
  } else {
    throw new RangeError(`addInto: the buffers are on different devices (${storageDevice(target)} and ${storageDevice(source)})`);
  }
}

/** Frees device memory now (a no-op for host memory, which the GC reclaims). */
export function freeStorage(storage: FloatStorage | BigInt64Array | null | undefined): void {
  if (storage && isDeviceBuffer(storage)) storage.free();
}

function checkIndex(index: unknown): number {
  const i = checkInteger('device index', index, { min: 0 });
  requireCudaDevice(i);
  return i;
}

/** CUDA queries, like `torch.cuda`. */
export const cuda = Object.freeze({
  /** True when node-rnn was built with CUDA and a usable CUDA device is present, like `torch.cuda.is_available()`. */
  isAvailable(): boolean {
    return nativeDeviceCount() > 0;
  },
  /** Number of usable CUDA devices (0 without a CUDA build or driver), like `torch.cuda.device_count()`. */
  deviceCount(): number {
    return nativeDeviceCount();
  },
  /** The device's name, e.g. 'NVIDIA H100 80GB HBM3', like `torch.cuda.get_device_name(i)`. */
  deviceName(index = 0): string {
    return native.cudaDeviceName(checkIndex(index));
  },
  /** Waits for all work on the device, like `torch.cuda.synchronize(i)`. */
  synchronize(index = 0): void {
    native.cudaSynchronize(checkIndex(index));
  },
});

const PRECISIONS: readonly Float32MatmulPrecision[] = ['highest', 'high'];

/**
 * Float32 matrix products on CUDA, like `torch.set_float32_matmul_precision`: 'highest' (the default) computes
 * in float32; 'high' allows TensorFloat-32 (faster on Ampere and later, about 1e-3 relative error). CPU math is
 * unaffected.
 */
export function setFloat32MatmulPrecision(precision: Float32MatmulPrecision): void {
  const p = checkOneOf('precision', precision, PRECISIONS);
  native.setFloat32MatmulPrecision(p);
}

export function getFloat32MatmulPrecision(): Float32MatmulPrecision {
  return native.getFloat32MatmulPrecision() as Float32MatmulPrecision;
}
