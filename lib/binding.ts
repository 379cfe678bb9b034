// Loads the compiled addon. A missing or broken build throws an Error that says how to rebuild it,
// instead of a bare dlopen trace.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';

/** What one recurrent call computes (native/core/rnn_spec.h's RnnSpec, less the packed batch sizes). */
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
  /**
   * Element type of the call: float16 runs on CUDA only, bfloat16 on CUDA and the CPU; 'int8' (a module made by
   * quantizeDynamic, on the CPU) takes its weight matrices packed (Uint8Array, int8Pack) and every other tensor in
   * float32. A backward is float32.
   */
  dtype: DeviceDType | 'int8';
}

/** Element types of device memory: float32, or the raw 16-bit patterns of float16 / bfloat16. */
export type DeviceDType = 'float32' | 'float16' | 'bfloat16';

/**
 * Memory on a CUDA device, owned by the native addon (`cudaAlloc`): `length` elements of `dtype`. It is reported
 * to V8 as external memory and freed by `free()` (idempotent) or when garbage collected; native calls given a
 * freed buffer throw.
 */
export interface DeviceBuffer {
  /** The CUDA device index. */
  readonly device: number;
  /** Size in elements of `dtype`. */
  readonly length: number;
  /** The element type. */
  readonly dtype: DeviceDType;
  readonly freed: boolean;
  free(): void;
}

/** The CUDA forward's time loop for one shape: one persistent kernel, one fused kernel per step, or a cuBLAS GEMM + step kernel per step. */
export interface CudaStepPlan {
  path: 'persistent' | 'fused' | 'gemm';
  unitsPerBlock?: number;
  rowsPerBlock?: number;
  blocks?: number;
  sharedBytes?: number;
  /** given layers and steps: whether a unidirectional time-major stack of that shape runs pipelined over several streams */
  pipelined?: boolean;
}

/** Tensor memory as native code takes it: host (CPU) memory or a CUDA buffer. */
export type NativeStorage = Float32Array | DeviceBuffer;
/** Floating tensor memory of any float dtype: float32, or float16/bfloat16 bits in a Uint16Array, or a CUDA buffer. */
export type FloatStorage = Float32Array | Uint16Array | DeviceBuffer;

/**
 * One recurrent forward, as rnnForward / rnnForwardAsync take it: native code reads each field by name and
 * computes straight into these arrays (no copies). Every tensor is on one device (lib/ checks that first).
 */
export interface NativeForwardCall {
  spec: NativeForwardSpec;
  /** Per layer and direction, PyTorch's order; a Uint8Array is a packed int8 matrix (spec.dtype 'int8' only). */
  weights: (FloatStorage | Uint8Array)[];
  input: FloatStorage;
  h0: FloatStorage | null;
  c0: FloatStorage | null;
  output: FloatStorage;
  hN: FloatStorage;
  /** LSTM only. */
  cN: FloatStorage | null;
  /** A packed sequence's batch size per step; null: not packed. */
  batchSizes: Int32Array | null;
  /** Receives what backward needs (rnnSavedSize floats, float32); null: not recording. */
  saved: NativeStorage | null;
  /**
   * Optional: per layer and direction the weights already packed by f32Prepack or bf16Prepack (a module made by
   * optimizeForInference; float32 / bfloat16 LSTM / GRU forwards on the CPU only, the form matching the call's
   * dtype). Absent or null: packed in the call.
   */
  prepacked?: Uint8Array[] | null;
}

/** A forward that saved for backward: its call object is the backward's too. */
export interface NativeRecordedCall extends NativeForwardCall {
  saved: NativeStorage;
}

/**
 * One backward (float32, on the forward's device): the recorded forward's fields and the gradients. Weight
 * gradients are accumulated into (+=), the others written.
 */
export interface NativeBackwardCall extends NativeRecordedCall {
  gradOutput: NativeStorage | null;
  gradHN: NativeStorage | null;
  gradCN: NativeStorage | null;
  /** null when the input needs no gradient (dX is then not computed). */
  gradInput: NativeStorage | null;
  gradH0: NativeStorage | null;
  gradC0: NativeStorage | null;
  gradWeights: NativeStorage[];
}

/** The sizes that fix a recurrent forward's saved workspace (rnnSavedSize). */
export interface NativeSavedShape {
  kind: number;
  /** Rows of the input: seqLen * batch, or a packed sequence's rows. */
  rows: number;
  numLayers: number;
  bidirectional: boolean;
  hiddenSize: number;
  projSize: number;
}

export type Float32MatmulPrecision = 'highest' | 'high';

export interface NativeBinding {
  rnnForward(call: NativeForwardCall): void;
  /** C = alpha op(A) op(B) + beta C, row-major, on the CPU (ranges are checked natively). */
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
    B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): void;
  /**
   * Floats a recording forward of this shape saves for backward (native/core/rnn_saved.h's layout), as a double:
   * the memory limit asks it before anything is allocated, for sizes too large to run as well.
   */
  rnnSavedSize(shape: NativeSavedShape): number;
  rnnBackward(call: NativeBackwardCall): void;
  rnnForwardAsync(call: NativeForwardCall): Promise<void>;
  /** The cell kinds' spec numbers and gate counts (native/core/cell_kind.h), by mode name: asked once by lib/nn/recurrent-call.ts. */
  rnnContract(): { kinds: Record<string, number>; gates: Record<string, number> };
  setNumThreads(n: number): void;
  getNumThreads(): number;
  blasInfo(): { config: string; core: string };
  /**
   * The CPU kernels' instruction-set level (after NODE_RNN_SIMD), whether the bfloat16 kernels use VDPBF16PS, the
   * int8 kernels' family (vnni: VPDPBUSD; avx512 / avx2 / base: int16 pairs), and how many forwards so far ran a
   * stack's layers at once (one member a layer) and a bidirectional layer's directions at once (native/cpu/layer_stack.h).
   */
  cpuKernels(): {
    level: 'avx512' | 'avx2' | 'base'; bf16Dot: boolean; int8: 'vnni' | 'avx512' | 'avx2' | 'base'; layerStacks: number; directionPairs: number;
  };
  /** W [gates n, k] as int8 values with one scale per row, packed for this CPU's int8 kernels (the forward's weights). */
  int8Pack(gates: number, n: number, k: number, values: Int8Array, scales: Float32Array): Uint8Array;
  /** output [rows, n] = input [rows, k] W^T (+ bias) with W packed by int8Pack (gates 1); input quantized per row. */
  int8Linear(packed: Uint8Array, bias: Float32Array | null, input: Float32Array, rows: number, k: number, n: number, output: Float32Array): void;
  /**
   * One float32 LSTM (kind 2) or GRU (kind 3) layer-direction's weights packed for this CPU's step kernels, in every
   * layout a forward may pick (I inputs, P = projSize or H outputs, H units); biases both null without bias.
   */
  f32Prepack(kind: number, I: number, P: number, H: number, wIh: Float32Array, wHh: Float32Array, bIh: Float32Array | null, bHh: Float32Array | null): Uint8Array;
  /**
   * The same for bfloat16 weights (bits in Uint16Arrays), W_hr [P, H] too for an LSTM with projections (else null
   * and P = H).
   */
  bf16Prepack(kind: number, I: number, P: number, H: number, wIh: Uint16Array, wHh: Uint16Array, bIh: Uint16Array | null, bHh: Uint16Array | null, wHr: Uint16Array | null): Uint8Array;

  // CUDA: exported by every build (the loader checks that each function is there); a CPU-only build reports
  // built: false and its cudaAlloc & co throw 'built without CUDA', so nothing here is optional.
  cudaBuildInfo(): { built: boolean; reason: string };
  cudaDeviceCount(): number;
  cudaDeviceName(device: number): string;
  cudaSynchronize(device: number): void;
  /** '' when the driver is usable, else the CUDA error text. */
  cudaDriverError(): string;
  /** Uninitialised device memory of `elements` of `dtype` (float32 when omitted); out of memory throws an Error. */
  cudaAlloc(device: number, elements: number, dtype?: DeviceDType): DeviceBuffer;
  /** `src.length === dst.length`; a Float32Array for float32 buffers, a Uint16Array (bits) for float16/bfloat16. */
  cudaUpload(dst: DeviceBuffer, src: Float32Array | Uint16Array): void;
  cudaDownload(dst: Float32Array | Uint16Array, src: DeviceBuffer): void;
  /** Same length and dtype; same or different device. */
  cudaCopy(dst: DeviceBuffer, src: DeviceBuffer): void;
  /** Same length and device, any dtypes: dst = src converted (round to nearest even). */
  cudaConvert(dst: DeviceBuffer, src: DeviceBuffer): void;
  /** `value` rounded to the buffer's dtype in every element. */
  cudaFill(dst: DeviceBuffer, value: number): void;
  /** dst += src (same length and device). */
  cudaAdd(dst: DeviceBuffer, src: DeviceBuffer): void;
  /** C = alpha op(A) op(B) + beta C, row-major, on DeviceBuffers of one device (cuBLAS; TF32 per the matmul precision). */
  cudaSgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: DeviceBuffer, lda: number,
    B: DeviceBuffer, ldb: number, beta: number, C: DeviceBuffer, ldc: number): void;
  /** Which float32 time loop a layer-direction of this shape runs on `device` (kind: 0 RNN tanh, 1 RNN relu, 2 LSTM, 3 GRU). */
  cudaStepPlan(device: number, kind: number, batch: number, hidden: number, outSize: number, layers?: number, steps?: number): CudaStepPlan;
  /** SGD update of a CUDA parameter in place (lib/optim/sgd.ts); buf null without momentum. */
  cudaSgdStep(param: DeviceBuffer, grad: DeviceBuffer, buf: DeviceBuffer | null, negLr: number, weightDecay: number,
    momentum: number, keep: number, nesterov: boolean, maximize: boolean, firstStep: boolean): void;
  /** Adam / AdamW update of a CUDA parameter and its state in place (lib/optim/adam.ts); maxExpAvgSq null without amsgrad. */
  cudaAdamStep(param: DeviceBuffer, grad: DeviceBuffer, expAvg: DeviceBuffer, expAvgSq: DeviceBuffer, maxExpAvgSq: DeviceBuffer | null,
    negStepSize: number, biasCorrection2Sqrt: number, eps: number, weightDecay: number, decay: number, w1: number,
    oneMinusW1: number, beta2: number, w2: number, decoupled: boolean, maximize: boolean): void;
  // Tensor-op primitives on float32 DeviceBuffers of one device (lib/autograd/device-kernels.ts states their contracts):
  // queued on the calling thread's stream without waiting; sizes and indices are checked natively as well.
  cudaStridedCopy(dst: DeviceBuffer, dstOffset: number, dstStrides: number[], src: DeviceBuffer, srcOffset: number,
    srcStrides: number[], shape: number[]): void;
  cudaUnary(op: number, out: DeviceBuffer, x: DeviceBuffer): void;
  cudaUnaryBackward(op: number, gx: DeviceBuffer, g: DeviceBuffer, x: DeviceBuffer | null, y: DeviceBuffer | null): void;
  cudaBinary(op: number, out: DeviceBuffer, a: DeviceBuffer, aStrides: number[], b: DeviceBuffer, bStrides: number[], shape: number[],
    alpha: number): void;
  cudaSumMiddle(out: DeviceBuffer, x: DeviceBuffer, outer: number, n: number, inner: number, scale: number): void;
  cudaSoftmax(out: DeviceBuffer, x: DeviceBuffer, outer: number, n: number, inner: number, log: boolean): void;
  cudaSoftmaxBackward(gx: DeviceBuffer, g: DeviceBuffer, y: DeviceBuffer, outer: number, n: number, inner: number, log: boolean): void;
  cudaIndexSelect(out: DeviceBuffer, x: DeviceBuffer, outer: number, size: number, inner: number, index: BigInt64Array): void;
  cudaIndexAdd(gx: DeviceBuffer, g: DeviceBuffer, outer: number, size: number, inner: number, index: BigInt64Array, skip: number): void;
  cudaGemmBatched(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: DeviceBuffer, lda: number,
    strideA: number, B: DeviceBuffer, ldb: number, strideB: number, beta: number, C: DeviceBuffer, ldc: number, strideC: number,
    batch: number): void;
  cudaBceWithLogits(loss: DeviceBuffer, x: DeviceBuffer, t: DeviceBuffer, posWeight: DeviceBuffer | null, weight: DeviceBuffer | null): void;
  cudaBceWithLogitsBackward(coef: DeviceBuffer, x: DeviceBuffer, t: DeviceBuffer, posWeight: DeviceBuffer | null, weight: DeviceBuffer | null,
    gx: DeviceBuffer | null, gt: DeviceBuffer | null, gPosWeight: DeviceBuffer | null, gWeight: DeviceBuffer | null): void;
  setFloat32MatmulPrecision(precision: Float32MatmulPrecision): void;
  getFloat32MatmulPrecision(): string;
}

/** Every function of NativeBinding: a build that lacks one is from other sources (a stale build/), refused at load. */
const NATIVE_FUNCTIONS = [
  'rnnForward',
  'sgemm',
  'rnnSavedSize',
  'rnnBackward',
  'rnnForwardAsync',
  'rnnContract',
  'setNumThreads',
  'getNumThreads',
  'blasInfo',
  'cpuKernels',
  'int8Pack',
  'int8Linear',
  'f32Prepack',
  'bf16Prepack',
  'cudaBuildInfo',
  'cudaDeviceCount',
  'cudaDeviceName',
  'cudaSynchronize',
  'cudaDriverError',
  'cudaAlloc',
  'cudaUpload',
  'cudaDownload',
  'cudaCopy',
  'cudaConvert',
  'cudaFill',
  'cudaAdd',
  'cudaSgemm',
  'cudaStepPlan',
  'cudaSgdStep',
  'cudaAdamStep',
  'cudaStridedCopy',
  'cudaUnary',
  'cudaUnaryBackward',
  'cudaBinary',
  'cudaSumMiddle',
  'cudaSoftmax',
  'cudaSoftmaxBackward',
  'cudaIndexSelect',
  'cudaIndexAdd',
  'cudaGemmBatched',
  'cudaBceWithLogits',
  'cudaBceWithLogitsBackward',
  'setFloat32MatmulPrecision',
  'getFloat32MatmulPrecision',
] as const satisfies readonly (keyof NativeBinding)[];
// compile-time: the list above names every method of the interface
type Unlisted = Exclude<{ [K in keyof NativeBinding]: NativeBinding[K] extends (...a: never[]) => unknown ? K : never }[keyof NativeBinding], (typeof NATIVE_FUNCTIONS)[number]>;
const listComplete: [Unlisted] extends [never] ? true : Unlisted = true;
void listComplete;

function missingFunctions(binding: Record<string, unknown>): string[] {
  return NATIVE_FUNCTIONS.filter((name) => typeof binding[name] !== 'function');
}

const root = path.resolve(__dirname, '..', '..');

interface AddonPaths {
  prebuiltPath(root: string): string;
  sourceBuildPaths(root: string): string[];
}
// Plain JS shared with the install script, which runs before the TypeScript is compiled.
const addonPaths = require(path.join(root, 'scripts', 'addon-paths.js')) as AddonPaths;

/** Where a build comes from: a source build (cmake-js / node-gyp), the prebuilt binary, or NODE_RNN_ADDON. */
export type AddonSource = 'source' | 'prebuilt' | 'NODE_RNN_ADDON';
export interface AddonCandidate {
  file: string;
  source: AddonSource;
}

/**
 * The builds to try, in order: a source build (it may have CUDA, and a user who built one asked for it), then the
 * prebuilt CPU binary for this platform. NODE_RNN_ADDON names one build to load instead (e.g. scripts/asan.sh's
 * sanitized one), with no fallback, so a run meant for that build never silently uses another.
 */
export function addonCandidates(): AddonCandidate[] {
  if (process.env.NODE_RNN_ADDON) return [{ file: path.resolve(process.env.NODE_RNN_ADDON), source: 'NODE_RNN_ADDON' }];
  return [
    ...addonPaths.sourceBuildPaths(root).map((file) => ({ file, source: 'source' as const })),
    { file: addonPaths.prebuiltPath(root), source: 'prebuilt' },
  ];
}

let loaded: AddonCandidate | null = null;

/** The build this process loaded: its file and where it comes from. */
export function loadedAddon(): AddonCandidate {
  return { ...loaded! };
}

/** Loads the first candidate that loads; otherwise throws an Error naming each one tried and how to fix it. */
export function loadNative(candidates: readonly (AddonCandidate | string)[] = addonCandidates()): NativeBinding {
  const tried: string[] = [];
  let anyBroken = false;
  for (const c of candidates) {
    const candidate: AddonCandidate = typeof c === 'string' ? { file: c, source: 'source' } : c;
    if (!fs.existsSync(candidate.file)) {
      tried.push(`${candidate.file} (${candidate.source}): not present`);
      continue;
    }
    try {
      const binding = require(candidate.file) as NativeBinding;
      const missing = missingFunctions(binding as unknown as Record<string, unknown>);
      if (missing.length > 0) {
        anyBroken = true;
        tried.push(`${candidate.file} (${candidate.source}): built from other sources, it lacks ${missing.join(', ')}`);
        continue;
      }
      loaded = candidate;
      return binding;
    } catch (error) {
      anyBroken = true;
      tried.push(`${candidate.file} (${candidate.source}): could not be loaded: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const platform = `${process.platform}-${process.arch}`;
  throw new Error(
    `node-rnn: ${anyBroken ? 'the build could not be loaded' : 'no native build was found'} for ${platform} (Node ${process.versions.node}). Tried:\n  ` +
      `${tried.join('\n  ')}\n` +
      'The prebuilt binary covers Linux x64 with glibc 2.36 or newer; elsewhere build from source. Install CMake, a C++ ' +
      'compiler and OpenBLAS (Debian/Ubuntu: apt-get install -y cmake g++ libopenblas-dev), then:\n' +
      '  in a project using node-rnn:   npm rebuild node-rnn --build-from-source\n' +
      `  in a node-rnn checkout (${root}):   npm run build:native`,
  );
}

export const native: NativeBinding = loadNative();
native.setNumThreads(typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
