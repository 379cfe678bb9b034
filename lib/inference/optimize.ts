// optimizeForInference (after torch.jit.optimize_for_inference, which freezes a module and prepacks its weights):
// a new module of the same class whose RNN, LSTM, GRU and cell submodules hold a snapshot of their weights (float32,
// or bfloat16), LSTM's and GRU's also packed once for this CPU's step kernels. Every forward of an ordinary module packs its
// weights again (they may have changed since the last call); at batch 1 that was about a tenth of a 100-step
// LSTM 256 call. Other submodules (Linear, Embedding, ...) become copies that do not require grad.
import { native } from '../binding';
import { checkOptions, describe } from '../checks';
import { convertHostFloats, FloatDType } from '../half';
import { CellBase } from '../nn/cell-base';
import { Module } from '../nn/module';
import { inferenceCopy } from '../nn/inference-copy';
import { NATIVE_KIND } from '../nn/recurrent-call';
import { RNNBase } from '../nn/rnn-base';
import { quantizedState } from '../quantization/state';
import { PreparedState, preparedState, setPreparedState } from './state';

export interface OptimizeForInferenceOptions {
  /**
   * The weights' type: 'float32' or 'bfloat16' (results then equal to the bit those of `module.bfloat16()`: bfloat16
   * weights, float32 accumulation and cell state). Default: the module's own dtype.
   */
  dtype?: 'float32' | 'bfloat16';
}

/**
 * A new, inference-only copy of `module` (same class, same call signatures, same results to the bit) whose
 * recurrent submodules (itself included) keep their weights packed for this CPU, so that no forward packs them
 * again. The original is left unchanged, and later changes to it are not seen by the copy. The copy has no
 * parameters: it cannot train, move, convert or load a state dict, and a forward that would record for backward
 * is refused. Weights must be float32 or bfloat16 and on the CPU; with `dtype` the recurrent submodules' weights
 * are converted as `module.to(dtype)` would (other submodules are copied as they are). The packed forms take about
 * 2-3 times the weights' memory.
 */
export function optimizeForInference<T extends Module>(module: T, options?: OptimizeForInferenceOptions): T {
  if (!(module instanceof Module)) throw new TypeError(`Expected a Module for module but received ${describe(module)}`);
  const o = checkOptions('optimizeForInference options', options, ['dtype']);
  if (o.dtype !== undefined && o.dtype !== 'float32' && o.dtype !== 'bfloat16') {
    throw new RangeError(`Expected dtype 'float32' or 'bfloat16' for optimizeForInference but received ${describe(o.dtype)} (for int8 weights use quantizeDynamic)`);
  }
  // every check before anything is built, so a refusal leaves nothing half-made
  for (const [name, m] of module.namedModules()) {
    if (quantizedState(m)) throw new Error(`optimizeForInference: ${name || 'the module'} was made by quantizeDynamic; optimize the float32 module instead`);
  }
  const named = module.namedParameters();
  for (const [name, p] of named) {
    if (p.disposed) throw new Error(`optimizeForInference: parameter ${name} has been disposed`);
    if (p.device !== 'cpu') throw new Error(`optimizeForInference: parameter ${name} is on ${p.device}; packed weights are for the CPU, so optimize a CPU module (module.cpu())`);
    if (p.dtype !== 'float32' && p.dtype !== 'bfloat16') {
      throw new TypeError(`optimizeForInference: parameter ${name} is ${p.dtype}; it takes float32 and bfloat16 modules (module.float(), module.bfloat16())`);
    }
  }
  const dtype = (o.dtype as OptimizeForInferenceOptions['dtype']) ?? (named.length > 0 && (named[0][1].dtype as string) === 'bfloat16' ? 'bfloat16' : 'float32');
  // in eval mode, as PyTorch's freezing requires: no dropout between layers
  return inferenceCopy(module, (m) => convert(m, dtype)).eval() as T;
}

function convert(module: Module, dtype: 'float32' | 'bfloat16'): ((copy: Module) => void) | null {
  const state = preparedState(module) ?? (module instanceof RNNBase || module instanceof CellBase ? prepare(module, dtype) : null);
  return state ? (copy) => setPreparedState(copy, state) : null;
}

/** A snapshot of a recurrent module's weights in dtype and, for LSTM and GRU, their packed forms per layer-direction. */
function prepare(module: RNNBase | CellBase, dtype: 'float32' | 'bfloat16'): PreparedState {
  const weights = module.namedParameters().map(([, p]) =>
    convertHostFloats(p.storage() as Float32Array | Uint16Array, p.dtype as FloatDType, dtype));
  if (module.mode !== 'LSTM' && module.mode !== 'GRU') return { dtype, weights, prepacked: null };
  const rnn = module instanceof RNNBase ? module : null;
  const proj = rnn !== null && rnn.projSize > 0;
  const H = module.hiddenSize, P = proj ? rnn.projSize : H;
  const layers = rnn ? rnn.numLayers : 1, D = rnn?.bidirectional ? 2 : 1;
  const per = 2 + (module.bias ? 2 : 0) + (proj ? 1 : 0);
  const prepacked: Uint8Array[] = [];
  for (let ld = 0; ld < layers * D; ld++) {
    const I = ld < D ? module.inputSize : D * P;
    // weight_ih, weight_hh, then bias_ih and bias_hh when the module has biases, then weight_hr with projections
    const at = ld * per;
    const [bIh, bHh] = module.bias ? [weights[at + 2], weights[at + 3]] : [null, null];
    const kind = NATIVE_KIND[module.mode];
    if (dtype === 'bfloat16') {
      const bits = (a: Float32Array | Uint16Array | null) => a as Uint16Array | null;
      prepacked.push(native.bf16Prepack(kind, I, P, H, bits(weights[at])!, bits(weights[at + 1])!, bits(bIh), bits(bHh), proj ? bits(weights[at + per - 1]) : null));
    } else {
      const floats = (a: Float32Array | Uint16Array | null) => a as Float32Array | null;
      prepacked.push(native.f32Prepack(kind, I, P, H, floats(weights[at])!, floats(weights[at + 1])!, floats(bIh), floats(bHh)));
    }
  }
  return { dtype, weights, prepacked };
}
