// optimizeForInference (after torch.jit.optimize_for_inference, which freezes a module and prepacks its weights):
// a new module of the same class whose RNN, LSTM, GRU and cell submodules hold a snapshot of their float32 weights,
// LSTM's and GRU's also packed once for this CPU's step kernels. Every forward of an ordinary module packs its
// weights again (they may have changed since the last call); at batch 1 that was about a tenth of a 100-step
// LSTM 256 call. Other submodules (Linear, Embedding, ...) become copies that do not require grad.
import { native } from '../binding';
import { checkOptions, describe } from '../checks';
import { CellBase } from '../nn/cell-base';
import { Module } from '../nn/module';
import { inferenceCopy } from '../nn/inference-copy';
import { NATIVE_KIND } from '../nn/recurrent-call';
import { RNNBase } from '../nn/rnn-base';
import { quantizedState } from '../quantization/state';
import { PreparedState, preparedState, setPreparedState } from './state';

export interface OptimizeForInferenceOptions {
  /** The weights' type: 'float32' (the default and, for now, the only one). */
  dtype?: 'float32';
}

/**
 * A new, inference-only copy of `module` (same class, same call signatures, same results to the bit) whose
 * recurrent submodules (itself included) keep their weights packed for this CPU, so that no forward packs them
 * again. The original is left unchanged, and later changes to it are not seen by the copy. The copy has no
 * parameters: it cannot train, move, convert or load a state dict, and a forward that would record for backward
 * is refused. Weights must be float32 and on the CPU. The packed forms take about 2-3 times the weights' memory.
 */
export function optimizeForInference<T extends Module>(module: T, options?: OptimizeForInferenceOptions): T {
  if (!(module instanceof Module)) throw new TypeError(`Expected a Module for module but received ${describe(module)}`);
  const o = checkOptions('optimizeForInference options', options, ['dtype']);
  if (o.dtype !== undefined && o.dtype !== 'float32') {
    throw new RangeError(`Expected dtype 'float32' for optimizeForInference but received ${describe(o.dtype)} (for int8 weights use quantizeDynamic)`);
  }
  // every check before anything is built, so a refusal leaves nothing half-made
  for (const [name, m] of module.namedModules()) {
    if (quantizedState(m)) throw new Error(`optimizeForInference: ${name || 'the module'} was made by quantizeDynamic; optimize the float32 module instead`);
  }
  for (const [name, p] of module.namedParameters()) {
    if (p.disposed) throw new Error(`optimizeForInference: parameter ${name} has been disposed`);
    if (p.device !== 'cpu') throw new Error(`optimizeForInference: parameter ${name} is on ${p.device}; packed weights are for the CPU, so optimize a CPU module (module.cpu())`);
    if (p.dtype !== 'float32') throw new TypeError(`optimizeForInference: parameter ${name} is ${p.dtype}; it takes float32 modules (module.float())`);
  }
  // in eval mode, as PyTorch's freezing requires: no dropout between layers
  return inferenceCopy(module, convert).eval() as T;
}

function convert(module: Module): ((copy: Module) => void) | null {
  const state = preparedState(module) ?? (module instanceof RNNBase || module instanceof CellBase ? prepare(module) : null);
  return state ? (copy) => setPreparedState(copy, state) : null;
}

/** A snapshot of a recurrent module's weights and, for LSTM and GRU, their packed forms per layer-direction. */
function prepare(module: RNNBase | CellBase): PreparedState {
  const weights = module.namedParameters().map(([, p]) => Float32Array.from(p.hostValues() as Float32Array));
  if (module.mode !== 'LSTM' && module.mode !== 'GRU') return { weights, prepacked: null };
  const rnn = module instanceof RNNBase ? module : null;
  const H = module.hiddenSize, P = rnn && rnn.projSize > 0 ? rnn.projSize : H;
  const layers = rnn ? rnn.numLayers : 1, D = rnn?.bidirectional ? 2 : 1;
  const per = 2 + (module.bias ? 2 : 0) + (rnn && rnn.projSize > 0 ? 1 : 0);
  const prepacked: Uint8Array[] = [];
  for (let ld = 0; ld < layers * D; ld++) {
    const I = ld < D ? module.inputSize : D * P;
    const at = ld * per; // weight_ih, weight_hh, then bias_ih and bias_hh when the module has biases
    const [bIh, bHh] = module.bias ? [weights[at + 2], weights[at + 3]] : [null, null];
    prepacked.push(native.f32Prepack(NATIVE_KIND[module.mode], I, P, H, weights[at], weights[at + 1], bIh, bHh));
  }
  return { weights, prepacked };
}
