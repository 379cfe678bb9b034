// At batch 1 the step kernels update two whole unit groups' cells as one (cell::update2: their chains interleave)
// and a group left over alone (the last one of a member, or one whose neighbour H ends within). Which groups pair
// up depends on how the team splits the groups, so 1 and 2 threads pair them differently: bfloat16 and int8 must
// give the same bits all the same, and every precision must match a float64 recurrence written out here. float32
// agrees to its rounding: its epilogue leaves a * b + c to GCC's contraction (activations.h, Contract), which gives
// the same bits in the release build but fused differently at pair boundaries in the sanitizer build (-O1 with
// UBSan's checks, scripts/asan.sh). Sizes: batch * gates * H * H >= 65536, so 2 threads do split each step; H 208
// and 200 give 13 and 12.5 groups of 16 (odd counts, a tail).
import { strict as assert } from 'node:assert';
import { GRU, LSTM, Tensor, getNumThreads, manualSeed, noGrad, optimizeForInference, quantizeDynamic, randn, setNumThreads } from '../lib/index';
import { relativeError } from './helpers/fixtures';
import { bits } from './helpers/same-bits';

type Recurrent = LSTM | GRU;

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** out[t] of a one-layer LSTM or GRU on x [T, 1, I], in float64 from the module's float32 weights. */
function reference(module: Recurrent, x: Tensor, lstm: boolean): Float64Array {
  const p = Object.fromEntries(module.namedParameters().map(([n, t]) => [n, t.data as Float32Array]));
  const [T, , I] = x.shape as number[];
  const H = module.hiddenSize, G = lstm ? 4 : 3;
  const xs = x.data as Float32Array;
  const out = new Float64Array(T * H);
  let h = new Float64Array(H);
  const c = new Float64Array(H);
  const dot = (w: Float32Array, row: number, v: ArrayLike<number>, n: number, off: number): number => {
    let s = 0;
    for (let k = 0; k < n; ++k) s += w[row * n + k] * v[off + k];
    return s;
  };
  for (let t = 0; t < T; ++t) {
    const gi = new Float64Array(G * H), gh = new Float64Array(G * H);
    for (let r = 0; r < G * H; ++r) {
      gi[r] = dot(p.weight_ih_l0, r, xs, I, t * I) + p.bias_ih_l0[r];
      gh[r] = dot(p.weight_hh_l0, r, h, H, 0) + p.bias_hh_l0[r];
    }
    const next = new Float64Array(H);
    for (let j = 0; j < H; ++j) {
      if (lstm) {
        const [i, f, g, o] = [0, 1, 2, 3].map((k) => gi[k * H + j] + gh[k * H + j]);
        c[j] = sigmoid(f) * c[j] + sigmoid(i) * Math.tanh(g);
        next[j] = sigmoid(o) * Math.tanh(c[j]);
      } else {
        const r = sigmoid(gi[j] + gh[j]), z = sigmoid(gi[H + j] + gh[H + j]);
        const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
        next[j] = (1 - z) * n + z * h[j];
      }
    }
    h = next;
    out.set(h, t * H);
  }
  return out;
}

function maxAbsDiff(ours: Tensor, ref: Float64Array): number {
  const o = ours.float().data as Float32Array;
  assert.equal(o.length, ref.length);
  let worst = 0;
  for (let i = 0; i < o.length; ++i) worst = Math.max(worst, Number.isFinite(o[i]) ? Math.abs(o[i] - ref[i]) : Infinity);
  return worst;
}

describe('batch-1 steps: two unit groups updated as one', function () {
  this.timeout(60000);
  const before = getNumThreads();
  after(() => setNumThreads(before));
  const modules: [string, () => Recurrent, boolean][] = [
    ['LSTM H208', () => new LSTM({ inputSize: 24, hiddenSize: 208 }), true],
    ['LSTM H200', () => new LSTM({ inputSize: 24, hiddenSize: 200 }), true],
    ['GRU H200', () => new GRU({ inputSize: 24, hiddenSize: 200 }), false],
  ];
  // [precision, how the module runs, bfloat16 input, bound on |ours - float64| (float32 rounding; bfloat16 and int8
  // weights), whether 1 and 2 threads must give the same bits]
  const precisions: [string, (m: Recurrent) => Recurrent, boolean, number, boolean][] = [
    ['float32', (m) => m, false, 1e-5, false],
    ['float32 packed once', (m) => optimizeForInference(m) as Recurrent, false, 1e-5, false],
    ['bfloat16', (m) => m.bfloat16() as Recurrent, true, 3e-2, true],
    ['int8', (m) => quantizeDynamic(m) as Recurrent, false, 3e-2, true],
  ];
  for (const [name, make, lstm] of modules) {
    for (const [precision, convert, half, bound, sameBits] of precisions) {
      it(`${name} ${precision}: 1 and 2 threads give ${sameBits ? 'the same bits' : 'the same values'}, near the float64 recurrence`, () => {
        manualSeed(31);
        const module = make();
        const x = randn([17, 1, 24]);
        const ref = reference(module, x, lstm);
        const run = convert(module);
        const input = half ? x.bfloat16() : x;
        const forward = (threads: number): Tensor[] => {
          setNumThreads(threads);
          const [out, h] = noGrad(() => (run as LSTM).forward(input)) as [Tensor, Tensor | Tensor[]];
          return [out, ...(Array.isArray(h) ? h : [h])];
        };
        const one = forward(1);
        const two = forward(2);
        one.forEach((t, i) => {
          if (sameBits) assert.deepEqual(bits(two[i]), bits(t), `result ${i}`);
          else assert.ok(relativeError(two[i], t) <= 1e-6, `result ${i}: relative error ${relativeError(two[i], t)}`);
        });
        const err = maxAbsDiff(one[0], ref);
        assert.ok(err <= bound, `max |ours - float64| ${err} > ${bound}`);
      });
    }
  }
});
