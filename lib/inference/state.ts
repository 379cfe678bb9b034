// The weights of modules made by optimizeForInference, kept beside each module (a WeakMap) as quantizeDynamic keeps
// its int8 weights: such a module has no parameters, so nothing can write into the weights its packed forms were
// made from (a parameter's `.data` is live memory that no version counter watches). Nothing here imports the module
// classes, so every module file may import it.

export interface PreparedState {
  /** The weights' dtype: float32, or bfloat16 (bits in Uint16Arrays). */
  readonly dtype: 'float32' | 'bfloat16';
  /** The module's weights in PyTorch's parameter order, copied (and converted to dtype) when the module was made. */
  readonly weights: readonly (Float32Array | Uint16Array)[];
  /** Per layer and direction, the same weights packed for this CPU's step kernels (LSTM, GRU); null for RNN. */
  readonly prepacked: readonly Uint8Array[] | null;
}

const states = new WeakMap<object, PreparedState>();

export function preparedState(module: object): PreparedState | undefined {
  return states.get(module);
}

export function setPreparedState(module: object, state: PreparedState): void {
  states.set(module, state);
}

/** What a module that holds modules made by optimizeForInference refuses, with what to do instead. */
export function preparedRefusal(moduleName: string, what: string): Error {
  return new Error(
    `${moduleName} is or holds modules made by optimizeForInference, which cannot ${what}: they are inference-only, ` +
      'run on the CPU in the dtype they were made in and hold their weights packed; change the original module and call optimizeForInference again',
  );
}
