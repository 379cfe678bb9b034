// The bfloat16 and int8 CPU forwards at sizes where the thread team splits the work (hidden sizes of 32-96, batches
// up to 40: unit blocks below batch 16, the batch's rows from there for int8), with random kinds, layers,
// directions, layouts, projections, packed batches and starting states. Each result must be finite, close to the
// float32 module's (bfloat16: relative error <= 2e-2; int8: mean absolute error <= 1e-2 for these inputs), and
// the same bits on two threads as on one (every split is exact).
import fc from 'fast-check';
import {
  GRU, LSTM, Module, PackedSequence, RNN, Tensor, getNumThreads, noGrad, packPaddedSequence, quantizeDynamic, setNumThreads, tensor,
} from '../../lib/index';
import { fill } from './modules';

export const teamPrecisionCase = fc.record({
  kind: fc.constantFrom('LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU'),
  precision: fc.constantFrom('bfloat16', 'int8'),
  I: fc.integer({ min: 1, max: 40 }), H: fc.integer({ min: 32, max: 96 }), proj: fc.integer({ min: 0, max: 40 }),
  layers: fc.integer({ min: 1, max: 2 }), bidirectional: fc.boolean(), batchFirst: fc.boolean(),
  T: fc.integer({ min: 1, max: 6 }),
  B: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 16, max: 40 })),
  packed: fc.boolean(), withState: fc.boolean(), seed: fc.nat(),
});
export type TeamPrecisionCase = typeof teamPrecisionCase extends fc.Arbitrary<infer T> ? T : never;

type Recurrent = LSTM | GRU | RNN;

function build(c: TeamPrecisionCase): Recurrent {
  const base = { inputSize: c.I, hiddenSize: c.H, numLayers: c.layers, bidirectional: c.bidirectional, batchFirst: c.batchFirst };
  if (c.kind === 'LSTM') return new LSTM({ ...base, projSize: c.proj < c.H && c.proj % 3 === 0 ? c.proj : 0 });
  if (c.kind === 'GRU') return new GRU(base);
  return new RNN({ ...base, nonlinearity: c.kind === 'RNN_TANH' ? 'tanh' : 'relu' });
}

/** The float module's weights in a bfloat16 module (inputs and states stay float32: a bfloat16 module takes them). */
function bfloat16Copy(c: TeamPrecisionCase, float: Recurrent): Module {
  const m = build(c);
  m.loadStateDict(float.stateDict());
  m.eval();
  return m.bfloat16();
}

type Result = [Tensor | PackedSequence, Tensor | [Tensor, Tensor]];

function flat(r: Result): Float32Array[] {
  const [out, state] = r;
  const ts = [out instanceof PackedSequence ? out.data : out, ...(Array.isArray(state) ? state : [state])];
  return ts.map((t) => (t.dtype === 'float32' ? t : t.to('float32')).data as Float32Array);
}

function check(ours: Float32Array[], ref: Float32Array[], precision: string): void {
  ours.forEach((a, i) => {
    const b = ref[i];
    if (a.length !== b.length) throw new Error(`result ${i}: ${a.length} values, float32 gives ${b.length}`);
    let diff = 0, norm = 0, abs = 0;
    for (let j = 0; j < a.length; j++) {
      if (!Number.isFinite(a[j])) throw new Error(`result ${i}[${j}] = ${a[j]} (float32 ${b[j]})`);
      diff += (a[j] - b[j]) ** 2;
      norm += b[j] ** 2;
      abs += Math.abs(a[j] - b[j]);
    }
    if (precision === 'bfloat16' && !(Math.sqrt(diff) <= 2e-2 * Math.sqrt(norm) + 1e-6)) {
      throw new Error(`result ${i}: bfloat16 relative error ${Math.sqrt(diff / norm)}`);
    }
    if (precision === 'int8' && a.length > 0 && !(abs / a.length <= 1e-2 * (1 + Math.sqrt(norm / a.length)))) {
      throw new Error(`result ${i}: int8 mean absolute error ${abs / a.length}`);
    }
  });
}

export const teamPrecisionProperty = fc.property(teamPrecisionCase, (c) => {
  const float = build(c);
  float.eval();
  const low: Module = c.precision === 'int8' ? quantizeDynamic(float) : bfloat16Copy(c, float);
  const D = c.bidirectional ? 2 : 1, P = float instanceof LSTM && float.projSize ? float.projSize : c.H;
  const shape = c.batchFirst ? [c.B, c.T, c.I] : [c.T, c.B, c.I];
  const padded = tensor(fill(c.B * c.T * c.I, c.seed, false), shape);
  const lengths = Array.from({ length: c.B }, (_, b) => Math.max(1, c.T - Math.floor((b * c.T) / c.B)));
  const x = c.packed ? packPaddedSequence(padded, lengths, { batchFirst: c.batchFirst }) : padded;
  const h0 = tensor(fill(c.layers * D * c.B * P, c.seed + 1, false), [c.layers * D, c.B, P]);
  const c0 = tensor(fill(c.layers * D * c.B * c.H, c.seed + 2, false), [c.layers * D, c.B, c.H]);
  const state = c.withState ? (float instanceof LSTM ? [h0, c0] : h0) : undefined;
  const forward = (m: Module, input: Tensor | PackedSequence, hx: unknown): Result =>
    noGrad(() => (m as unknown as { forward(x: unknown, h?: unknown): Result }).forward(input, hx));
  const ref = flat(forward(float, x, state));
  const before = getNumThreads();
  try {
    setNumThreads(1);
    const one = flat(forward(low, x, state));
    setNumThreads(2);
    const two = flat(forward(low, x, state));
    two.forEach((t, i) => {
      const j = t.findIndex((v, k) => !Object.is(v, one[i][k]));
      if (j >= 0) throw new Error(`result ${i}[${j}]: 2 threads give ${t[j]}, 1 thread ${one[i][j]}`);
    });
    check(one, ref, c.precision);
  } finally {
    setNumThreads(before);
  }
});
