// Floating-point operation counts of the recurrent layers, for the benchmark's GFLOP/s column.
//
// Only the matrix products of every step are counted, as is usual for RNN benchmarks: for each layer and
// direction, x_t W_ih^T ([B, I_layer] x [I_layer, G*H]) and h W_hh^T ([B, R] x [R, G*H]), where R is the size
// of the recurrent state (H, or P with an LSTM projection), plus h W_hr^T ([B, H] x [H, P]) with a projection.
// The gate nonlinearities and bias additions are left out (O(B*G*H) per step, not O(B*G*H*(I+H))).
// A backward pass is counted as twice the forward and a training step (forward + backward + update) as three
// times, the usual convention (the backward has two GEMMs per forward GEMM: one for the data, one for the
// weights).

export type FlopsCell = 'LSTM' | 'GRU' | 'RNN_TANH' | 'RNN_RELU';

export interface FlopsSpec {
  cell: FlopsCell;
  seqLen: number;
  batch: number;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  /** LSTM projection size (PyTorch's proj_size); 0 or absent: none. */
  projSize?: number;
}

/** Gate blocks per cell: 4 for LSTM, 3 for GRU, 1 for the plain RNN. */
export function gateCount(cell: FlopsCell): number {
  return cell === 'LSTM' ? 4 : cell === 'GRU' ? 3 : 1;
}

/**
 * FLOPs of one forward pass: the sum over layers and directions of 2*T*B*(G*H*(I_layer + R) + H*P), where R = P
 * with a projection and H without, P = 0 without, and I_layer is the input size for layer 0 and D*R (D = 2 when
 * bidirectional) for the layers above.
 */
export function forwardFlops(spec: FlopsSpec): number {
  const { seqLen: T, batch: B, inputSize: I, hiddenSize: H, numLayers } = spec;
  const P = spec.projSize ?? 0;
  const R = P > 0 ? P : H;
  const G = gateCount(spec.cell);
  const D = spec.bidirectional ? 2 : 1;
  let total = 0;
  for (let layer = 0; layer < numLayers; layer++) {
    const layerInput = layer === 0 ? I : D * R;
    total += D * 2 * T * B * (G * H * (layerInput + R) + H * P);
  }
  return total;
}

/** Passes a benchmark can time, and how many forward passes' worth of FLOPs each is counted as. */
export const PASS_FLOPS_FACTOR = { forward: 1, backward: 2, train: 3 } as const;
