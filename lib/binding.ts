// Loads the compiled addon. A missing or broken build throws an Error that says how to rebuild it,
// instead of a bare dlopen trace.
import * as path from 'node:path';
import * as os from 'node:os';

export interface NativeForwardSpec {
  kind: number;
  inputSize: number;
  hiddenSize: number;
  projSize: number;
  numLayers: number;
  bidirectional: boolean;
  bias: boolean;
  batchFirst: boolean;
  seqLen: number;
  batch: number;
  dropout: number;
  training: boolean;
  seed: number;
}

/**
 * Float32 memory on a CUDA device, owned by the native addon (`cudaAlloc`). It is reported to V8 as external
 * memory and freed by `free()` (idempotent) or when garbage collected; native calls given a freed buffer throw.
 */
export interface DeviceBuffer {
  /** The CUDA device index. */
  readonly device: number;
  /** Size in float32 elements. */
  readonly length: number;
  readonly freed: boolean;
  free(): void;
}

/** Tensor memory as native code takes it: host (CPU) memory or a CUDA buffer. */
export type NativeStorage = Float32Array | DeviceBuffer;

/** Every tensor argument of one call must be on the same device (checked in lib/ before the call). */
type CoreArgs = [
  spec: NativeForwardSpec,
  weights: NativeStorage[],
  input: NativeStorage,
  h0: NativeStorage | null,
  c0: NativeStorage | null,
  output: NativeStorage,
  hN: NativeStorage,
  cN: NativeStorage | null,
  batchSizes: Int32Array | null,
];

/** A forward call; `saved` (sized by rnnSavedSize) receives what backward needs. */
export type ForwardArgs = [...CoreArgs, saved?: Float32Array | null];
/** A backward call: the forward's arguments with what it saved, then the gradients. */
export type RecordedArgs = [...CoreArgs, saved: Float32Array];

type BackwardArgs = [
  gradOutput: Float32Array | null,
  gradHN: Float32Array | null,
  gradCN: Float32Array | null,
  gradInput: Float32Array,
  gradH0: Float32Array | null,
  gradC0: Float32Array | null,
  gradWeights: Float32Array[],
];

export type Float32MatmulPrecision = 'highest' | 'high';

export interface NativeBinding {
  rnnForward(...args: ForwardArgs): void;
  /** C = alpha op(A) op(B) + beta C, row-major, on the CPU (ranges are checked natively). */
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
    B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): void;
  /** Floats the forward with these arguments saves for backward. */
  rnnSavedSize(...args: ForwardArgs): number;
  rnnBackward(...args: [...RecordedArgs, ...BackwardArgs]): void;
  rnnForwardAsync(...args: ForwardArgs): Promise<void>;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  blasInfo(): { config: string; core: string };

  // CUDA (present in every build; a CPU-only build reports built: false and its cudaAlloc & co throw).
  // Optional in the type because an addon built before CUDA support lacks them; lib/cuda.ts handles that.
  cudaBuildInfo?(): { built: boolean; reason: string };
  cudaDeviceCount?(): number;
  cudaDeviceName?(device: number): string;
  cudaSynchronize?(device: number): void;
  /** '' when the driver is usable, else the CUDA error text. */
  cudaDriverError?(): string;
  /** Uninitialised float32 device memory; out of memory throws an Error. */
  cudaAlloc?(device: number, elements: number): DeviceBuffer;
  /** `src.length === dst.length`. */
  cudaUpload?(dst: DeviceBuffer, src: Float32Array): void;
  cudaDownload?(dst: Float32Array, src: DeviceBuffer): void;
  /** Same length; same or different device. */
  cudaCopy?(dst: DeviceBuffer, src: DeviceBuffer): void;
  cudaFill?(dst: DeviceBuffer, value: number): void;
  setFloat32MatmulPrecision?(precision: Float32MatmulPrecision): void;
  getFloat32MatmulPrecision?(): string;
}

const root = path.resolve(__dirname, '..', '..');
const candidates = [path.join(root, 'build', 'Release', 'node_rnn.node'), path.join(root, 'build', 'Debug', 'node_rnn.node')];

/** Loads the first of `files` that exists; exported so the error path can be tested. */
export function loadNative(files: readonly string[] = candidates): NativeBinding {
  const failures: string[] = [];
  for (const file of files) {
    try {
      return require(file) as NativeBinding;
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      if (e.code !== 'MODULE_NOT_FOUND') failures.push(`${file}: ${e.message.split('\n')[0]}`);
    }
  }
  const reason = failures.length > 0 ? `the build could not be loaded:\n  ${failures.join('\n  ')}` : 'no native build was found';
  throw new Error(
    `node-rnn: ${reason}\n` +
      `Rebuild it from ${root} with:\n` +
      '  apt-get install -y cmake libopenblas-dev   (Debian/Ubuntu; or your platform\'s CMake and OpenBLAS)\n' +
      '  npm run build:native',
  );
}

export const native: NativeBinding = loadNative();
native.setNumThreads(typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
