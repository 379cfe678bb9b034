// The public surface of node-rnn.
import { native, loadedAddon, type AddonCandidate } from './binding';
import { checkInteger } from './checks';

export { Tensor, DType, Device, DeviceLike, AnyTensor, NestedArray, isTensor } from './tensor';
export type { FloatDType, HalfDType, ToOptions } from './tensor';
export { TensorOptions, DeviceOptions, tensor, fromBuffer, zeros, ones, full, rand, randn } from './factories';
export type { FloatTensorOptions } from './factories';
export { cuda, setFloat32MatmulPrecision, getFloat32MatmulPrecision } from './cuda';
export type { Float32MatmulPrecision, AddonCandidate, AddonSource } from './binding';
export { manualSeed } from './random';
export { setMemoryLimit, getMemoryLimit } from './limits';
export { noGrad, isGradEnabled, setGradEnabled } from './autograd/grad-mode';
export * as autograd from './autograd/index';
// the differentiable ops (add, matmul, sum, softmax, reshape, cat, indexSelect, ...) and the Operand type
export * from './autograd/ops/index';
import './autograd/tensor-methods';
export * as F from './nn/functional/index';
export * as optim from './optim/index';
export { clipGradNorm, clipGradValue, ClipGradNormOptions } from './nn/clip';
export * as functional from './nn/functional/index';
export { loadSafetensors, saveSafetensors, serializeSafetensors, readSafetensorsMetadata } from './safetensors';
export type { LoadSafetensorsOptions } from './safetensors';
export * from './nn/index';
export { quantizeDynamic, saveQuantized, serializeQuantized, loadQuantized } from './quantization/index';
export type { QuantizeDynamicOptions, QuantizableClass } from './quantization/index';
export { optimizeForInference } from './inference/optimize';
export type { OptimizeForInferenceOptions } from './inference/optimize';
export * as nn from './nn/index';
export {
  DynamicBatcher, DynamicBatcherOptions, DynamicBatcherStats, BatchedResult, dynamicBatcher, BATCHER_QUEUE_FULL, BATCHER_CLOSED,
} from './serving/index';

/** Threads used by native math (OpenBLAS), like `torch.set_num_threads`; defaults to the core count. */
export function setNumThreads(n: number): void {
  native.setNumThreads(checkInteger('n', n));
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** The BLAS library and the CPU kernel it picked, e.g. `{ config: 'OpenBLAS 0.3.21 ...', core: 'Haswell' }`. */
/** Which native build this process loaded: its file, and whether it is a source build or the prebuilt binary. */
export function addonInfo(): AddonCandidate {
  return loadedAddon();
}

export function blasInfo(): { config: string; core: string } {
  return native.blasInfo();
}
