// Floating-point operation counts of the recurrent layers, for the benchmark's GFLOP/s column.
//
// Only the two matrix products of every step are counted, as is usual for RNN benchmarks:
// for each layer and direction, x_t W_ih^T ([B, I_layer] x [I_layer, G*H]) and h W_hh^T
// ([B, H] x [H, G*H]), i.e. 2*B*G*H*(I_layer + H) multiply-adds per time step. The gate
// nonlinearities and bias additions are left out (O(B*G*H) per step, not O(B*G*H*(I+H))).

export type FlopsCell = 'LSTM' | 'GRU' | 'RNN_TANH' | 'RNN_RELU';

export interface FlopsSpec {
  cell: FlopsCell;
  seqLen: number;
  batch: number;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
}

/** Gate blocks per cell: 4 for LSTM, 3 for GRU, 1 for the plain RNN. */
export function gateCount(cell: FlopsCell): number {
  return cell === 'LSTM' ? 4 : cell === 'GRU' ? 3 : 1;
}

/**
 * FLOPs of one forward pass: the sum over layers and directions of 2*T*B*G*H*(I_layer + H), where
 * I_layer is the input size for layer 0 and D*H (D = 2 when bidirectional) for the layers above.
 */
export function forwardFlops(spec: FlopsSpec): number {
  const { seqLen: T, batch: B, inputSize: I, hiddenSize: H, numLayers } = spec;
  const G = gateCount(spec.cell);
  const D = spec.bidirectional ? 2 : 1;
  let total = 0;
  for (let layer = 0; layer < numLayers; layer++) {
    const layerInput = layer === 0 ? I : D * H;
    total += D * 2 * T * B * G * H * (layerInput + H);
  }
  return total;
}
