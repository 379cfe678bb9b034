// quantizeDynamic: torch.ao.quantization.quantize_dynamic for int8. A new module of the same class is made for the
// module and for every submodule (PyTorch deep-copies the model, then swaps the quantizable ones): RNN, LSTM, GRU,
// their cells and Linear get int8 weights (one symmetric scale per output row) and float32 biases; other modules
// keep float32 parameters (copies, not requiring grad). The result is for inference: activations are quantized per
// row on the fly by the native kernels, and a forward that would record for backward is refused.
import { checkOptions, describe } from '../checks';
import { CellBase } from '../nn/cell-base';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { ConvertModule, inferenceCopy } from '../nn/inference-copy';
import { RNNBase } from '../nn/rnn-base';
import { GATES } from '../nn/recurrent-call';
import { GRU } from '../nn/gru';
import { GRUCell } from '../nn/gru-cell';
import { LSTM } from '../nn/lstm';
import { LSTMCell } from '../nn/lstm-cell';
import { RNN } from '../nn/rnn';
import { RNNCell } from '../nn/rnn-cell';
import { MAX_INT8_COLUMNS, quantizeRows, quantizedMatrix } from './int8';
import { QuantizedEntry, QuantizedState, quantizedState, setQuantizedState } from './state';
import { linearFields } from './linear';

/** The module classes quantizeDynamic can quantize (PyTorch's default set for qint8, plus RNN). */
export type QuantizableClass = typeof RNN | typeof LSTM | typeof GRU | typeof RNNCell | typeof LSTMCell | typeof GRUCell | typeof Linear;
const QUANTIZABLE: readonly QuantizableClass[] = [RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, Linear];

export interface QuantizeDynamicOptions {
  /** The weights' type: 'int8' (the default and the only one). */
  dtype?: 'int8';
  /** Which classes to quantize (PyTorch's qconfig_spec as a set of types); default all of RNN, LSTM, GRU, the cells and Linear. */
  modules?: readonly QuantizableClass[];
}

/**
 * A new, inference-only copy of `module` (same class, same call signatures) whose RNN, LSTM, GRU, cell and Linear
 * submodules (itself included) have int8 weights with one float32 scale per output row and float32 biases; inputs,
 * states and results stay float32. The original is left unchanged. Deterministic: the same float module always
 * gives the same int8 values and scales. Weights must be finite and on the CPU.
 */
export function quantizeDynamic<T extends Module>(module: T, options?: QuantizeDynamicOptions): T {
  if (!(module instanceof Module)) throw new TypeError(`Expected a Module for module but received ${describe(module)}`);
  const o = checkOptions('quantizeDynamic options', options, ['dtype', 'modules']);
  if (o.dtype !== undefined && o.dtype !== 'int8') {
    throw new RangeError(`Expected dtype 'int8' for quantizeDynamic but received ${describe(o.dtype)} (for float16 or bfloat16 weights convert the module with .to(dtype))`);
  }
  let classes = QUANTIZABLE;
  if (o.modules !== undefined) {
    if (!Array.isArray(o.modules)) throw new TypeError(`Expected an array of module classes for modules but received ${describe(o.modules)}`);
    o.modules.forEach((c, i) => {
      if (!QUANTIZABLE.includes(c)) {
        throw new TypeError(`Expected one of RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, Linear for modules[${i}] but received ${typeof c === 'function' ? c.name || 'a function' : describe(c)}`);
      }
    });
    classes = o.modules as QuantizableClass[];
  }
  // every check before anything is built, so a refusal leaves nothing half-made
  for (const [name, p] of module.namedParameters()) {
    if (p.disposed) throw new Error(`quantizeDynamic: parameter ${name} has been disposed`);
    if (p.device !== 'cpu') throw new Error(`quantizeDynamic: parameter ${name} is on ${p.device}; int8 modules run on the CPU, so quantize a CPU module (module.cpu())`);
  }
  return inferenceCopy(module, convert(classes)) as T;
}

function quantizes(module: Module, classes: readonly QuantizableClass[]): boolean {
  return classes.some((c) => module.constructor === c);
}

function convert(classes: readonly QuantizableClass[]): ConvertModule {
  return (module, prefix) => {
    const existing = quantizedState(module);
    const state = existing ?? (quantizes(module, classes) ? quantizeWeights(module, prefix) : null);
    if (!state) return null;
    return (copy) => {
      setQuantizedState(copy, state);
      if (module instanceof Linear) linearFields(copy);
    };
  };
}

/** The module's own parameters as int8 matrices (weight_*) and float32 biases (bias_*), in their order. */
function quantizeWeights(module: Module, prefix: string): QuantizedState {
  const gates = module instanceof RNNBase || module instanceof CellBase ? GATES[module.mode] : 1;
  const entries: QuantizedEntry[] = module.namedParameters().map(([name, p]): QuantizedEntry => {
    const values = p.hostValues() as Float32Array;
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new RangeError(`quantizeDynamic: ${prefix}${name} has a non-finite value (${values[bad]} at index ${bad}); int8 weights need finite values`);
    }
    if (p.ndim === 1) return { bias: { name, values: Float32Array.from(values) } };
    const [rows, cols] = p.shape;
    if (cols > MAX_INT8_COLUMNS) {
      throw new RangeError(`quantizeDynamic: ${prefix}${name} has ${cols} columns; int8 dot products accumulate in int32, which holds at most ${MAX_INT8_COLUMNS}`);
    }
    // LSTM's W_hr and Linear's weight are one block; W_ih and W_hh have one block of rows per gate
    const g = name.startsWith('weight_hr') ? 1 : gates;
    const q = quantizeRows(values, rows, cols);
    return { matrix: quantizedMatrix(name, g, rows / g, cols, q.values, q.scales) };
  });
  return { entries };
}
