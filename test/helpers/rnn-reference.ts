// An independent float64 reference of PyTorch's multi-layer nn.LSTM / nn.GRU / nn.RNN, written from PyTorch's
// documented equations, for the ONNX Runtime peer's tests; optionally with the products of a dynamically
// quantized model (weights replaced by their dequantized values, each GEMM operand fake-quantized), so that
// ONNX Runtime's int8 model can be checked against the arithmetic it is meant to do.

import { strict as assert } from 'node:assert';
import type { PeerCell, PeerSpec } from '../../bench/onnx-rnn-model';

export type Weights = Record<string, Float32Array>;

/** Small deterministic PRNG (mulberry32), uniform in [lo, hi). */
export function uniform(seed: number): (lo: number, hi: number) => number {
  let a = seed >>> 0;
  return (lo, hi) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

export function gateCount(cell: PeerCell): number {
  return cell === 'LSTM' ? 4 : cell === 'GRU' ? 3 : 1;
}

function directions(spec: PeerSpec): string[] {
  return spec.bidirectional ? ['', '_reverse'] : [''];
}

/** Random weights in PyTorch's state_dict layout, initialised like PyTorch: U(-1/sqrt(H), 1/sqrt(H)). */
export function randomWeights(spec: PeerSpec, rand: (lo: number, hi: number) => number): Weights {
  const H = spec.hiddenSize;
  const G = gateCount(spec.cell);
  const D = directions(spec).length;
  const k = 1 / Math.sqrt(H);
  const fill = (n: number) => Float32Array.from({ length: n }, () => rand(-k, k));
  const weights: Weights = {};
  for (let layer = 0; layer < spec.numLayers; layer++) {
    const inputSize = layer === 0 ? spec.inputSize : D * H;
    for (const dir of directions(spec)) {
      weights[`weight_ih_l${layer}${dir}`] = fill(G * H * inputSize);
      weights[`weight_hh_l${layer}${dir}`] = fill(G * H * H);
      weights[`bias_ih_l${layer}${dir}`] = fill(G * H);
      weights[`bias_hh_l${layer}${dir}`] = fill(G * H);
    }
  }
  return weights;
}

/**
 * What a dynamically quantized model does to its products: `weight` gives the values a weight matrix
 * [rows, cols] is multiplied with, `operand` the values a GEMM's other operand (rows of activations) is.
 */
export interface Quantization {
  weight(w: Float32Array, rows: number, cols: number): ArrayLike<number>;
  operand(a: Float64Array): Float64Array;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** rows of A [n, cols] times W [rows, cols]^T plus b, into [n, rows]. */
function affineRows(A: ArrayLike<number>, n: number, W: ArrayLike<number>, b: Float32Array, rows: number, cols: number): Float64Array {
  const y = new Float64Array(n * rows);
  for (let m = 0; m < n; m++) {
    for (let r = 0; r < rows; r++) {
      let s = b[r]!;
      for (let c = 0; c < cols; c++) s += W[r * cols + c]! * A[m * cols + c]!;
      y[m * rows + r] = s;
    }
  }
  return y;
}

/**
 * PyTorch's multi-layer RNN in float64: input [T, B, I] (seq-first), zero initial state, returns the last layer's
 * output [T, B, D*H] (forward direction first).
 *   LSTM: i,f,o = sigmoid, g = tanh; c' = f*c + i*g; h' = o*tanh(c')
 *   GRU:  r,z = sigmoid; n = tanh(W_in x + b_in + r*(W_hn h + b_hn)); h' = (1-z)*n + z*h
 *   RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu
 * With `q`, each layer-direction multiplies q.weight(W) by q.operand of its whole input sequence [T*B, I] and,
 * at each step, by q.operand of h_{t-1} [B, H] (the operands ONNX Runtime's quantized LSTM quantizes).
 */
export function referenceRnn(spec: PeerSpec, weights: Weights, input: Float32Array, q?: Quantization): Float64Array {
  const { seqLen: T, batch: B, hiddenSize: H, cell } = spec;
  const dirs = directions(spec);
  const D = dirs.length;
  const G = gateCount(cell);

  let x = Float64Array.from(input);
  let inputSize = spec.inputSize;
  for (let layer = 0; layer < spec.numLayers; layer++) {
    const out = new Float64Array(T * B * D * H);
    dirs.forEach((dir, d) => {
      const wih = weights[`weight_ih_l${layer}${dir}`]!;
      const whh = weights[`weight_hh_l${layer}${dir}`]!;
      const bih = weights[`bias_ih_l${layer}${dir}`]!;
      const bhh = weights[`bias_hh_l${layer}${dir}`]!;
      const Wi = q ? q.weight(wih, G * H, inputSize) : wih;
      const Wh = q ? q.weight(whh, G * H, H) : whh;
      const gi = affineRows(q ? q.operand(x) : x, T * B, Wi, bih, G * H, inputSize); // [T*B, G*H]
      let h = new Float64Array(B * H);
      const c = new Float64Array(B * H);
      for (let step = 0; step < T; step++) {
        const t = d === 0 ? step : T - 1 - step;
        const gh = affineRows(q ? q.operand(h) : h, B, Wh, bhh, G * H, H); // [B, G*H]
        const next = new Float64Array(B * H);
        for (let b = 0; b < B; b++) {
          const xi = (k: number) => gi[(t * B + b) * G * H + k]!;
          const hh = (k: number) => gh[b * G * H + k]!;
          for (let j = 0; j < H; j++) {
            if (cell === 'LSTM') {
              const gate = (g: number) => xi(g * H + j) + hh(g * H + j);
              const cj = sigmoid(gate(1)) * c[b * H + j]! + sigmoid(gate(0)) * Math.tanh(gate(2));
              c[b * H + j] = cj;
              next[b * H + j] = sigmoid(gate(3)) * Math.tanh(cj);
            } else if (cell === 'GRU') {
              const r = sigmoid(xi(j) + hh(j));
              const z = sigmoid(xi(H + j) + hh(H + j));
              const n = Math.tanh(xi(2 * H + j) + r * hh(2 * H + j));
              next[b * H + j] = (1 - z) * n + z * h[b * H + j]!;
            } else {
              const a = xi(j) + hh(j);
              next[b * H + j] = cell === 'RNN_TANH' ? Math.tanh(a) : Math.max(0, a);
            }
          }
          out.set(next.subarray(b * H, (b + 1) * H), ((t * B + b) * D + d) * H);
        }
        h = next;
      }
    });
    x = out;
    inputSize = D * H;
  }
  return x;
}

export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'output length');
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  return Math.sqrt(diff) / Math.sqrt(norm);
}
