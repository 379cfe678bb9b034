// A plain float64 implementation of PyTorch's recurrent formulas, the fuzz tests' oracle for values. It reads
// the module's parameters by their PyTorch names and runs one sequence at a time (packed batches are their
// sequences run separately), so it shares no code with the native driver.
import { strict as assert } from 'node:assert';

export type Mode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';

export interface RefModule {
  mode: Mode;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  projSize: number;
  bias: boolean;
}

export type Params = Record<string, ArrayLike<number>>;

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
// Math.max(0, NaN) is NaN, as torch.relu(nan) is.
const relu = (v: number): number => (Number.isNaN(v) ? v : Math.max(0, v));

function matVec(w: ArrayLike<number>, rows: number, cols: number, x: ArrayLike<number>, bias?: ArrayLike<number>): number[] {
  assert.equal(w.length, rows * cols, 'reference: weight size');
  const out = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    let s = bias ? bias[r] : 0;
    for (let k = 0; k < cols; k++) s += w[r * cols + k] * x[k];
    out[r] = s;
  }
  return out;
}

/** One step of cell `mode` with weights under `suffix` (e.g. `_l0`, `_l1_reverse`, or `` for cells). */
export function step(m: RefModule, p: Params, suffix: string, inSize: number, x: number[], h: number[], c: number[]): [number[], number[]] {
  const H = m.hiddenSize, P = m.projSize > 0 ? m.projSize : H;
  const G = (m.mode === 'LSTM' ? 4 : m.mode === 'GRU' ? 3 : 1) * H;
  const gi = matVec(p[`weight_ih${suffix}`], G, inSize, x, m.bias ? p[`bias_ih${suffix}`] : undefined);
  const gh = matVec(p[`weight_hh${suffix}`], G, P, h, m.bias ? p[`bias_hh${suffix}`] : undefined);
  if (m.mode === 'RNN_TANH' || m.mode === 'RNN_RELU') {
    const act = m.mode === 'RNN_TANH' ? Math.tanh : relu;
    return [gi.map((v, j) => act(v + gh[j])), c];
  }
  if (m.mode === 'GRU') {
    const out = new Array<number>(H);
    for (let j = 0; j < H; j++) {
      const r = sigmoid(gi[j] + gh[j]);
      const z = sigmoid(gi[H + j] + gh[H + j]);
      const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
      out[j] = (1 - z) * n + z * h[j];
    }
    return [out, c];
  }
  const cOut = new Array<number>(H);
  const hFull = new Array<number>(H);
  for (let j = 0; j < H; j++) {
    const i = sigmoid(gi[j] + gh[j]);
    const f = sigmoid(gi[H + j] + gh[H + j]);
    const g = Math.tanh(gi[2 * H + j] + gh[2 * H + j]);
    const o = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
    cOut[j] = f * c[j] + i * g;
    hFull[j] = o * Math.tanh(cOut[j]);
  }
  return [m.projSize > 0 ? matVec(p[`weight_hr${suffix}`], P, H, hFull) : hFull, cOut];
}

export interface SequenceResult {
  /** [T][D * P] */
  output: number[][];
  /** [L * D][P] and [L * D][H] */
  h: number[][];
  c: number[][];
}

/** The module on one sequence `xs` ([T][inputSize]) from states h0/c0 ([L * D][...], zeros when absent). */
export function runSequence(m: RefModule, p: Params, xs: number[][], h0?: number[][], c0?: number[][]): SequenceResult {
  const H = m.hiddenSize, P = m.projSize > 0 ? m.projSize : H, D = m.bidirectional ? 2 : 1, T = xs.length;
  let layerInput = xs;
  const hN: number[][] = [], cN: number[][] = [];
  for (let l = 0; l < m.numLayers; l++) {
    const inSize = l === 0 ? m.inputSize : D * P;
    const out: number[][] = Array.from({ length: T }, () => new Array<number>(D * P).fill(0));
    for (let d = 0; d < D; d++) {
      const k = l * D + d;
      let h = h0 ? h0[k].slice() : new Array<number>(P).fill(0);
      let c = c0 ? c0[k].slice() : new Array<number>(H).fill(0);
      for (let s = 0; s < T; s++) {
        const t = d === 0 ? s : T - 1 - s;
        [h, c] = step(m, p, `_l${l}${d === 1 ? '_reverse' : ''}`, inSize, layerInput[t], h, c);
        for (let j = 0; j < P; j++) out[t][d * P + j] = h[j];
      }
      hN.push(h);
      cN.push(c);
    }
    layerInput = out;
  }
  return { output: layerInput, h: hN, c: cN };
}
