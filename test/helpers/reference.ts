// The float64 reference of torch.nn.RNN / LSTM / GRU and their cells in the shapes module.test.ts and
// batch1-cells.test.ts use (batches as nested arrays, time-major). The equations themselves are the fuzz
// tests' oracle (test/fuzz/reference.ts: step, runSequence), run here batch row by batch row.
import { Module } from '../../lib/index';
import { Mode, Params as RefParams, RefModule, runSequence, step } from '../fuzz/reference';

export type Kind = Mode;
export type Params = Record<string, Float64Array>;
export type Mat3 = number[][][];

/** One time step of one cell in float64; returns [h', c']. `suffix` is '' for cells, '_l0', '_l1_reverse', ... */
export function refStep(kind: Kind, p: Params, suffix: string, H: number, x: number[], h: number[], c: number[] | null): [number[], number[] | null] {
  const wHr = p[`weight_hr${suffix}`];
  const m: RefModule = {
    mode: kind, inputSize: x.length, hiddenSize: H, numLayers: 1, bidirectional: false,
    projSize: wHr ? wHr.length / H : 0, bias: `bias_ih${suffix}` in p,
  };
  const [hNew, cNew] = step(m, p as RefParams, suffix, x.length, x, h, c ?? []);
  return [hNew, kind === 'LSTM' ? cNew : null];
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
  const m: RefModule = {
    mode: cfg.kind, inputSize: xs[0][0].length, hiddenSize: cfg.hiddenSize, numLayers: cfg.numLayers,
    bidirectional: cfg.bidirectional, projSize: cfg.projSize, bias: 'bias_ih_l0' in p,
  };
  const B = xs[0].length;
  const rows = Array.from({ length: B }, (_, b) => runSequence(m, p as RefParams, xs.map((xt) => xt[b]),
    h0 ? h0.map((hk) => hk[b]) : undefined, c0 ? c0.map((ck) => ck[b]) : undefined));
  const byLayer = (pick: (r: (typeof rows)[number]) => number[][]): Mat3 =>
    pick(rows[0]).map((_, k) => rows.map((r) => pick(r)[k]));
  return {
    output: xs.map((_, t) => rows.map((r) => r.output[t])),
    hN: byLayer((r) => r.h),
    cN: cfg.kind === 'LSTM' ? byLayer((r) => r.c) : null,
  };
}

export function paramsOf(m: Module): Params {
  return Object.fromEntries(m.namedParameters().map(([k, t]) => [k, Float64Array.from(t.data)]));
}
