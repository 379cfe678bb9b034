// The int8 weights of modules made by quantizeDynamic, kept beside each module (a WeakMap) rather than as its
// parameters: a quantized module has nothing to train, and its weights are int8 values with float32 scales, which
// no Tensor dtype holds. Nothing here imports the module classes, so every module file may import it.

/** One weight matrix W [gates * n, k] (PyTorch's [out, in]) quantized per row, and packed for this CPU. */
export interface QuantizedMatrix {
  /** PyTorch's parameter name, e.g. 'weight_ih_l0'. */
  readonly name: string;
  readonly gates: number;
  /** Rows per gate. */
  readonly n: number;
  /** Columns (inputs). */
  readonly k: number;
  /** Symmetric int8 values, row-major [gates * n, k]. */
  readonly values: Int8Array;
  /** One scale per row: W[r, :] ~ values[r, :] * scales[r]. */
  readonly scales: Float32Array;
  /** The same matrix packed for this CPU's int8 kernels (native int8Pack), read by every forward. */
  readonly packed: Uint8Array;
}

/** A float32 bias kept as it was. */
export interface QuantizedBias {
  readonly name: string;
  readonly values: Float32Array;
}

export type QuantizedEntry = { matrix: QuantizedMatrix } | { bias: QuantizedBias };

/** A quantized module's weights, in PyTorch's parameter order (the order the native forward takes them in). */
export interface QuantizedState {
  readonly entries: readonly QuantizedEntry[];
}

const states = new WeakMap<object, QuantizedState>();

export function quantizedState(module: object): QuantizedState | undefined {
  return states.get(module);
}

export function setQuantizedState(module: object, state: QuantizedState): void {
  states.set(module, state);
}

/** The arrays the native forward takes, in order: packed matrices (Uint8Array) and biases (Float32Array). */
export function nativeQuantizedWeights(state: QuantizedState): (Uint8Array | Float32Array)[] {
  return state.entries.map((e) => ('matrix' in e ? e.matrix.packed : e.bias.values));
}

/** What a module that holds quantized modules refuses, with what to do instead. */
export function quantizedRefusal(moduleName: string, what: string): Error {
  return new Error(
    `${moduleName} is or holds int8 modules made by quantizeDynamic, which cannot ${what}: they are inference-only, run on the CPU in ` +
      'float32, and load their weights with loadQuantized()',
  );
}
