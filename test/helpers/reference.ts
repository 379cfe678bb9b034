// An independent float64 reference of torch.nn.RNN / LSTM / GRU and their cells (plain loops over nested arrays),
// from PyTorch's equations: what module.test.ts and batch1-cells.test.ts compare the native results with.
import { strict as assert } from 'node:assert';
import { Module } from '../../lib/index';

export type Kind = 'LSTM' | 'GRU' | 'RNN_TANH' | 'RNN_RELU';
export type Params = Record<string, Float64Array>;
export type Mat3 = number[][][];

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** W[rows, cols] · v, plus b (optional). */
function affine(W: Float64Array, rows: number, v: number[], b?: Float64Array): number[] {
  const cols = v.length;
  assert.equal(W.length, rows * cols, 'reference: weight size');
  const out = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    let s = b ? b[r] : 0;
    for (let c = 0; c < cols; c++) s += W[r * cols + c] * v[c];
    out[r] = s;
  }
  return out;
}

/** One time step of one cell in float64; returns [h', c']. `suffix` is '' for cells, '_l0', '_l1_reverse', ... */
export function refStep(kind: Kind, p: Params, suffix: string, H: number, x: number[], h: number[], c: number[] | null): [number[], number[] | null] {
  const G = kind === 'LSTM' ? 4 : kind === 'GRU' ? 3 : 1;
  const gi = affine(p[`weight_ih${suffix}`], G * H, x, p[`bias_ih${suffix}`]);
  const gh = affine(p[`weight_hh${suffix}`], G * H, h, p[`bias_hh${suffix}`]);
  if (kind === 'LSTM') {
    const cNew = new Array<number>(H);
    let hNew = new Array<number>(H);
    for (let j = 0; j < H; j++) {
      const i = sigmoid(gi[j] + gh[j]);
      const f = sigmoid(gi[H + j] + gh[H + j]);
      const g = Math.tanh(gi[2 * H + j] + gh[2 * H + j]);
      const o = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
      cNew[j] = f * c![j] + i * g;
      hNew[j] = o * Math.tanh(cNew[j]);
    }
    const wHr = p[`weight_hr${suffix}`];
    if (wHr) hNew = affine(wHr, wHr.length / H, hNew);
    return [hNew, cNew];
  }
  if (kind === 'GRU') {
    const hNew = new Array<number>(H);
    for (let j = 0; j < H; j++) {
      const r = sigmoid(gi[j] + gh[j]);
      const z = sigmoid(gi[H + j] + gh[H + j]);
      const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]); // gh includes b_hn, inside r * (...)
      hNew[j] = (1 - z) * n + z * h[j];
    }
    return [hNew, null];
  }
  const pre = gi.map((v, j) => v + gh[j]);
  return [pre.map((v) => (kind === 'RNN_RELU' ? Math.max(0, v) : Math.tanh(v))), null];
}

export interface RefConfig {
  kind: Kind;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  projSize: number;
}

/** xs[t][b][i] time-major; h0[l*D+d][b][P], c0[..][b][H]. Returns output[t][b][D*P], hN, cN like PyTorch. */
export function refLayers(cfg: RefConfig, p: Params, xs: Mat3, h0: Mat3 | null, c0: Mat3 | null): { output: Mat3; hN: Mat3; cN: Mat3 | null } {
  const { kind, hiddenSize: H, numLayers: L } = cfg;
  const D = cfg.bidirectional ? 2 : 1;
  const P = cfg.projSize > 0 ? cfg.projSize : H;
  const T = xs.length, B = xs[0].length;
  const lstm = kind === 'LSTM';
  const hN: Mat3 = [];
  const cN: Mat3 = [];
  let layerInput = xs;
  for (let l = 0; l < L; l++) {
    const layerOutput: Mat3 = Array.from({ length: T }, () => Array.from({ length: B }, () => new Array<number>(D * P).fill(0)));
    for (let d = 0; d < D; d++) {
      const ld = l * D + d;
      const suffix = `_l${l}${d === 1 ? '_reverse' : ''}`;
      const hs: number[][] = [];
      const cs: (number[] | null)[] = [];
      for (let b = 0; b < B; b++) {
        hs.push(h0 ? h0[ld][b].slice() : new Array<number>(P).fill(0));
        cs.push(lstm ? (c0 ? c0[ld][b].slice() : new Array<number>(H).fill(0)) : null);
      }
      for (let s = 0; s < T; s++) {
        const t = d === 0 ? s : T - 1 - s;
        for (let b = 0; b < B; b++) {
          const [h, c] = refStep(kind, p, suffix, H, layerInput[t][b], hs[b], cs[b]);
          hs[b] = h;
          cs[b] = c;
          for (let j = 0; j < P; j++) layerOutput[t][b][d * P + j] = h[j];
        }
      }
      hN.push(hs);
      if (lstm) cN.push(cs as number[][]);
    }
    layerInput = layerOutput;
  }
  return { output: layerInput, hN, cN: lstm ? cN : null };
}

export function paramsOf(m: Module): Params {
  return Object.fromEntries(m.namedParameters().map(([k, t]) => [k, Float64Array.from(t.data)]));
}
