// Which float32 time loop node-rnn's CUDA forward takes for a case (native cudaStepPlan): 'persistent' (one
// cooperative kernel, W_hh on chip), 'fused' (one kernel per step) or 'gemm' (cuBLAS + step kernel per step).
// Shown in the CUDA table so a timing can be read against the code that produced it.

import type { BenchDevice } from './args';
import type { BenchCase } from './cases';

const KIND: Record<BenchCase['mode'], number> = { RNN_TANH: 0, RNN_RELU: 1, LSTM: 2, GRU: 3 };

export function cudaLoop(c: BenchCase, device: BenchDevice): string {
  if (device === 'cpu') return '';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { native } = require('../lib/binding') as typeof import('../lib/binding');
  const index = Number(device.slice('cuda:'.length));
  try {
    return native.cudaStepPlan(index, KIND[c.mode], c.shape.B, c.shape.H, c.shape.P > 0 ? c.shape.P : c.shape.H).path;
  } catch {
    return '-';
  }
}
