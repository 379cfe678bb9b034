// At batch 1 the step kernels update two whole unit groups' cells as one (cell::GroupPairs, update2: their chains
// interleave) and a group left over alone (the last one of a member, or one whose neighbour H ends within). Which
// groups pair up depends on how the team splits the groups, so 1 and 2 threads pair them differently: every
// precision must give the same bits all the same (every rounding of the update is written out, none left to
// GCC's contraction: activations.h, Contract; in the sanitizer build too, scripts/asan.sh), and match the
// float64 reference (helpers/reference.ts). Float32 below AVX-512 is the exception: its input projection is
// OpenBLAS's sgemm on each member's columns (cpu_backend.cpp), whose sums depend on the width it is given, so
// there 1 and 2 threads agree to rounding (1e-6). Sizes: batch * gates * H * H >= 65536, so 2 threads do split each
// step; H 208 and 200 give 13 and 12.5 groups of 16 (odd counts, a tail).
import { strict as assert } from 'node:assert';
import { GRU, LSTM, Tensor, getNumThreads, manualSeed, noGrad, optimizeForInference, quantizeDynamic, randn, setNumThreads } from '../lib/index';
import { Mat3, paramsOf, refLayers } from './helpers/reference';
import { bits } from './helpers/same-bits';
import { native } from '../lib/binding';
import { relativeError } from './helpers/fixtures';

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
  // weights)]
  const precisions: [string, (m: Recurrent) => Recurrent, boolean, number][] = [
    ['float32', (m) => m, false, 1e-5],
    ['float32 packed once', (m) => optimizeForInference(m) as Recurrent, false, 1e-5],
    ['bfloat16', (m) => m.bfloat16() as Recurrent, true, 3e-2],
    ['int8', (m) => quantizeDynamic(m) as Recurrent, false, 3e-2],
  ];
  for (const [name, make, lstm] of modules) {
    for (const [precision, convert, half, bound] of precisions) {
      it(`${name} ${precision}: 1 and 2 threads give the same bits, near the float64 reference`, () => {
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
        const ownProjection = half || precision === 'int8' || native.cpuKernels().level === 'avx512';
        one.forEach((t, i) => {
          if (ownProjection) assert.deepEqual(bits(two[i]), bits(t), `result ${i}`);
          else assert.ok(relativeError(two[i], t) <= 1e-6, `result ${i}: relative error ${relativeError(two[i], t)}`);
        });
        const err = maxAbsDiff(one[0], ref);
        assert.ok(err <= bound, `max |ours - float64| ${err} > ${bound}`);
      });
    }
  }
});
