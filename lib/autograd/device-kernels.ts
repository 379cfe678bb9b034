// The primitives the differentiable ops and torch.nn.functional compose on a device (the device branches in
// lib/autograd/ops/ and lib/nn/functional/): one interface, implemented by the native CUDA kernels here and, for
// the tests on machines without a GPU, by plain TypeScript over Float32Arrays (test/helpers/host-kernels.ts).
// Buffers are flat float32 memory; every size and index is checked by the caller first (the native side checks
// again).
import { DeviceBuffer, NativeBinding, NativeStorage, native } from '../binding';
import { Device, allocStorage, copyInto, cudaIndex, filledStorage, freeStorage, requireCudaDevice } from '../cuda';
import type { Tensor } from '../tensor';

export type Buf = NativeStorage;

/** Element-wise functions, by the op codes of native/cuda/cuda_tensor_kernels.h. */
export const UNARY = { neg: 0, tanh: 1, sigmoid: 2, relu: 3, exp: 4, log: 5 } as const;
export type UnaryCode = (typeof UNARY)[keyof typeof UNARY];
/** add: x + alpha y; mul: (x y) alpha; div: (x / y) alpha. */
export const BINARY = { add: 0, mul: 1, div: 2 } as const;
export type BinaryCode = (typeof BINARY)[keyof typeof BINARY];

/** The largest number of dimensions a strided copy or binary op takes (after adjacent dims are merged). */
export const MAX_DIMS = 8;

export interface TensorKernels {
  readonly device: Device;
  /** Uninitialised memory for `n` floats (checked against the memory limit). */
  alloc(n: number): Buf;
  /** New memory holding `values`. */
  upload(values: Float32Array): Buf;
  fill(buf: Buf, value: number): void;
  /** Frees memory now (temporaries), instead of leaving it to the garbage collector. */
  free(buf: Buf): void;
  /** dst[dstOffset + Σ i_d dstStrides[d]] = src[srcOffset + Σ i_d srcStrides[d]] for every index of `shape`. */
  stridedCopy(dst: Buf, dstOffset: number, dstStrides: readonly number[], src: Buf, srcOffset: number, srcStrides: readonly number[],
    shape: readonly number[]): void;
  unary(op: UnaryCode, out: Buf, x: Buf): void;
  /** The op's input gradient from the output's, its saved input x (log) and output y (the others but neg). */
  unaryBackward(op: UnaryCode, gx: Buf, g: Buf, x: Buf | null, y: Buf | null): void;
  /** out (contiguous over `shape`) = op(a, b), each read through its strides (0: broadcast). */
  binary(op: BinaryCode, out: Buf, a: Buf, aStrides: readonly number[], b: Buf, bStrides: readonly number[], shape: readonly number[],
    alpha: number): void;
  /** out[o, i] = scale Σ_s x[o, s, i] over an (outer, n, inner) layout. */
  sumMiddle(out: Buf, x: Buf, outer: number, n: number, inner: number, scale: number): void;
  softmax(out: Buf, x: Buf, outer: number, n: number, inner: number, log: boolean): void;
  /** From dL/dy and y: softmax y (g - Σ g y); log-softmax g - exp(y) Σ g. */
  softmaxBackward(gx: Buf, g: Buf, y: Buf, outer: number, n: number, inner: number, log: boolean): void;
  /** out[o, j, i] = x[o, index[j], i] for an (outer, size, inner) x; every index in [0, size). */
  indexSelect(out: Buf, x: Buf, outer: number, size: number, inner: number, index: BigInt64Array): void;
  /** gx[o, index[j], i] += g[o, j, i], except where index[j] === skip (-1: none). */
  indexAdd(gx: Buf, g: Buf, outer: number, size: number, inner: number, index: BigInt64Array, skip: number): void;
  /** For b < batch: C_b = alpha op(A_b) op(B_b) + beta C_b, row-major; stride 0 shares one matrix across the batch. */
  gemmBatched(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: Buf, lda: number, strideA: number,
    B: Buf, ldb: number, strideB: number, beta: number, C: Buf, ldc: number, strideC: number, batch: number): void;
  /**
   * binary_cross_entropy_with_logits per element, all buffers of one length (posWeight and weight broadcast by the
   * caller; null: 1): loss = w ((1 - t) x + (1 + (pw - 1) t) softplus(-x)).
   */
  bceWithLogits(loss: Buf, x: Buf, t: Buf, posWeight: Buf | null, weight: Buf | null): void;
  /** From coef = dL/dloss per element, the per-element gradients wanted (null: not wanted) of x, t, pw and w. */
  bceWithLogitsBackward(coef: Buf, x: Buf, t: Buf, posWeight: Buf | null, weight: Buf | null, gx: Buf | null, gt: Buf | null,
    gPosWeight: Buf | null, gWeight: Buf | null): void;
}

type CudaFns = Pick<NativeBinding, 'cudaStridedCopy' | 'cudaUnary' | 'cudaUnaryBackward' | 'cudaBinary' | 'cudaSumMiddle' |
  'cudaSoftmax' | 'cudaSoftmaxBackward' | 'cudaIndexSelect' | 'cudaIndexAdd' | 'cudaGemmBatched' | 'cudaBceWithLogits' |
  'cudaBceWithLogitsBackward'>;

function cudaFns(): CudaFns {
  return native;
}

const dev = (b: Buf) => b as DeviceBuffer;
const devOrNull = (b: Buf | null) => b && dev(b);

/** The native CUDA implementation on `device`. */
function cudaKernels(device: Device): TensorKernels {
  requireCudaDevice(cudaIndex(device));
  const n = cudaFns();
  return {
    device,
    alloc: (count) => allocStorage(device, count),
    upload(values) {
      const buf = allocStorage(device, values.length);
      try {
        copyInto(buf, values);
      } catch (e) {
        freeStorage(buf);
        throw e;
      }
      return buf;
    },
    fill(buf, value) {
      if (buf.length > 0) native.cudaFill(dev(buf), value);
    },
    free: (buf) => freeStorage(buf),
    stridedCopy: (dst, dOff, dStr, src, sOff, sStr, shape) => n.cudaStridedCopy(dev(dst), dOff, [...dStr], dev(src), sOff, [...sStr], [...shape]),
    unary: (op, out, x) => n.cudaUnary(op, dev(out), dev(x)),
    unaryBackward: (op, gx, g, x, y) => n.cudaUnaryBackward(op, dev(gx), dev(g), x && dev(x), y && dev(y)),
    binary: (op, out, a, aStr, b, bStr, shape, alpha) => n.cudaBinary(op, dev(out), dev(a), [...aStr], dev(b), [...bStr], [...shape], alpha),
    sumMiddle: (out, x, outer, len, inner, scale) => n.cudaSumMiddle(dev(out), dev(x), outer, len, inner, scale),
    softmax: (out, x, outer, len, inner, log) => n.cudaSoftmax(dev(out), dev(x), outer, len, inner, log),
    softmaxBackward: (gx, g, y, outer, len, inner, log) => n.cudaSoftmaxBackward(dev(gx), dev(g), dev(y), outer, len, inner, log),
    indexSelect: (out, x, outer, size, inner, index) => n.cudaIndexSelect(dev(out), dev(x), outer, size, inner, index),
    indexAdd: (gx, g, outer, size, inner, index, skip) => n.cudaIndexAdd(dev(gx), dev(g), outer, size, inner, index, skip),
    gemmBatched: (ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch) =>
      n.cudaGemmBatched(ta, tb, M, N, K, alpha, dev(A), lda, sA, dev(B), ldb, sB, beta, dev(C), ldc, sC, batch),
    bceWithLogits: (loss, x, t, pw, w) => n.cudaBceWithLogits(dev(loss), dev(x), dev(t), devOrNull(pw), devOrNull(w)),
    bceWithLogitsBackward: (coef, x, t, pw, w, gx, gt, gpw, gw) =>
      n.cudaBceWithLogitsBackward(dev(coef), dev(x), dev(t), devOrNull(pw), devOrNull(w), devOrNull(gx), devOrNull(gt), devOrNull(gpw), devOrNull(gw)),
  };
}

const cache = new Map<Device, TensorKernels>();
let hostOverride: TensorKernels | null = null;

/**
 * Tests only: runs the device path on CPU float32 tensors with `kernels` (a host implementation), so that it is
 * exercised where there is no GPU. null restores the CPU ops.
 */
export function setHostKernelsForTesting(kernels: TensorKernels | null): void {
  hostOverride = kernels;
}

/** Filled device memory (a new zero-filled gradient, a scalar operand). */
export function filled(k: TensorKernels, n: number, value: number): Buf {
  if (k.device !== 'cpu') return filledStorage(k.device, n, value);
  const buf = k.alloc(n);
  k.fill(buf, value);
  return buf;
}

/**
 * The kernels `op` runs with on the device of `tensors` (null entries and numbers ignored): null for CPU tensors
 * (the host ops), PyTorch's error when they are on two devices. Half-precision CUDA tensors are refused by the
 * callers' dtype checks before this.
 */
export function kernelsFor(tensors: readonly (readonly [name: string, tensor: Tensor<never> | Tensor | null | undefined])[]): TensorKernels | null {
  let device: Device | null = null;
  let first = '';
  for (const [name, t] of tensors) {
    if (!t) continue;
    if (device === null) {
      device = t.device;
      first = name;
    } else if (t.device !== device) {
      throw new Error(
        `Expected all tensors to be on the same device, but found at least two devices, ${device} and ${t.device}! ` +
          `(${name} is on ${t.device}, ${first} is on ${device})`,
      );
    }
  }
  if (device === null || device === 'cpu') return device === 'cpu' ? hostOverride : null;
  let k = cache.get(device);
  if (!k) {
    k = cudaKernels(device);
    cache.set(device, k);
  }
  return k;
}
