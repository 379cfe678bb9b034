// At batch 1 the step kernels update two whole unit groups' cells as one (cell::update2: their chains interleave)
// and a group left over alone (the last one of a member, or one whose neighbour H ends within). Which groups pair
// up depends on how the team splits the groups, so 1 and 2 threads pair them differently: bfloat16 and int8 must
// give the same bits all the same, and every precision must match the float64 reference (helpers/reference.ts).
// float32 agrees to its rounding: its epilogue leaves a * b + c to GCC's contraction (activations.h, Contract),
// which gives the same bits in the release build but fused differently at pair boundaries in the sanitizer build
// (-O1 with UBSan's checks, scripts/asan.sh). Sizes: batch * gates * H * H >= 65536, so 2 threads do split each
// step; H 208 and 200 give 13 and 12.5 groups of 16 (odd counts, a tail).
import { strict as assert } from 'node:assert';
import { GRU, LSTM, Tensor, getNumThreads, manualSeed, noGrad, optimizeForInference, quantizeDynamic, randn, setNumThreads } from '../lib/index';
import { relativeError } from './helpers/fixtures';
import { Mat3, paramsOf, refLayers } from './helpers/reference';
import { bits } from './helpers/same-bits';

type Recurrent = LSTM | GRU;

/** The largest |ours - reference| over out[t] (reference: test/helpers/reference.ts's float64 layers). */
function maxAbsDiff(ours: Tensor, ref: Mat3): number {
  const o = ours.float().data as Float32Array;
  const r = ref.flat(2);
  assert.equal(o.length, r.length);
  let worst = 0;
  for (let i = 0; i < o.length; ++i) worst = Math.max(worst, Number.isFinite(o[i]) ? Math.abs(o[i] - r[i]) : Infinity);
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
      it(`${name} ${precision}: 1 and 2 threads give ${sameBits ? 'the same bits' : 'the same values'}, near the float64 reference`, () => {
        manualSeed(31);
        const module = make();
        const x = randn([17, 1, 24]);
        const ref = refLayers({ kind: lstm ? 'LSTM' : 'GRU', hiddenSize: module.hiddenSize, numLayers: 1, bidirectional: false, projSize: 0 },
          paramsOf(module), x.toArray() as Mat3, null, null).output;
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
