// The GEMM ceiling: what the device's matrix product reaches on a big square float32 GEMM, measured in the same
// process with the same threads (CPU: the addon's sgemm, OpenBLAS split over node-rnn's thread team; CUDA:
// cuBLAS sgemm on device memory, in float32 or TF32). "% of ceiling" puts an RNN's GFLOP/s against it: a
// recurrence is a chain of small GEMMs, so it stays well below a big GEMM's rate. Rows in bfloat16, float16 or
// int8 have no ceiling of their own (a float32 one would not say how near their own arithmetic's peak they are).

import { performance } from 'node:perf_hooks';
import type { BenchDevice } from './args';
import type { Precision } from './cases';

/** The precisions a ceiling is measured for. */
export type CeilingPrecision = Extract<Precision, 'float32' | 'tf32'>;

export function hasCeiling(p: Precision): p is CeilingPrecision {
  return p === 'float32' || p === 'tf32';
}

export interface Ceiling {
  /** side of the square GEMM */
  size: number;
  precision: CeilingPrecision;
  /** best of the timed runs */
  ms: number;
  gflops: number;
  what: string;
}

export const DEFAULT_CEILING_SIZE = { cpu: 1024, cuda: 8192 } as const;
const RUNS = 5;

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0; // any values in [-1, 1) will do; denormals and NaN would skew the timing
    a[i] = x / 2 ** 31 - 1;
  }
  return a;
}

function best(runs: number, once: () => void): number {
  once(); // warm-up: page faults, thread start, cuBLAS kernel choice
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    once();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

export function cpuCeiling(n: number): Ceiling {
  const { native } = require('../lib/binding') as typeof import('../lib/binding');
  const [A, B, C] = [filled(n * n, 1), filled(n * n, 2), new Float32Array(n * n)];
  const ms = best(RUNS, () => native.sgemm(false, false, n, n, n, 1, A, n, B, n, 0, C, n));
  return { size: n, precision: 'float32', ms, gflops: (2 * n ** 3) / (ms * 1e6), what: `sgemm ${n}x${n}x${n} (OpenBLAS on node-rnn's thread team)` };
}

export function cudaCeiling(n: number, device: BenchDevice, precision: CeilingPrecision): Ceiling {
  const lib = require('../lib/index') as typeof import('../lib/index');
  const cuda = require('../lib/cuda') as typeof import('../lib/cuda');
  const index = cuda.cudaIndex(device);
  const buffers = [cuda.filledStorage(device, n * n, 0.5), cuda.filledStorage(device, n * n, 0.25), cuda.filledStorage(device, n * n, 0)];
  const before = lib.getFloat32MatmulPrecision();
  try {
    lib.setFloat32MatmulPrecision(precision === 'tf32' ? 'high' : 'highest');
    const [A, B, C] = buffers;
    // cudaSgemm returns once the product is done (it synchronises its stream)
    const ms = best(RUNS, () => cuda.cudaSgemm(false, false, n, n, n, 1, A, n, B, n, 0, C, n));
    lib.cuda.synchronize(index);
    const math = precision === 'tf32' ? 'TF32' : 'float32';
    return { size: n, precision, ms, gflops: (2 * n ** 3) / (ms * 1e6), what: `cuBLAS sgemm ${n}x${n}x${n} ${math}` };
  } finally {
    lib.setFloat32MatmulPrecision(before);
    for (const b of buffers) b.free();
  }
}
