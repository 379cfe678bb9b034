// The thread team splits each recurrence by blocks of hidden units (forward and backward). The reference
// cases are mostly too small to use it, so here larger modules run with 1 and with 2 threads: the single-thread
// path is the one the PyTorch cases prove, and the team must agree with it. (Sizes are chosen so that a step
// has enough work for the team: batch * gates * hidden * out >= 65536, hidden >= 32.)
import { strict as assert } from 'node:assert';
import { GRU, LSTM, Module, RNN, Tensor, autograd, getNumThreads, manualSeed, packPaddedSequence, padPackedSequence, randn, setNumThreads, PackedSequence } from '../lib/index';
import { relativeError } from './helpers/fixtures';

interface Run {
  out: Tensor;
  grads: Tensor[];
}

function run(threads: number, make: () => Module, packed: boolean): Run {
  setNumThreads(threads);
  manualSeed(5);
  const module = make() as LSTM;
  const x = randn([12, 6, 40]).requiresGrad_();
  const input = packed ? packPaddedSequence(x, [12, 11, 9, 9, 4, 1], { enforceSorted: false }) : x;
  const [raw, h] = module.forward(input as Tensor);
  const out = raw instanceof PackedSequence ? padPackedSequence(raw)[0] : (raw as Tensor);
  const states = Array.isArray(h) ? h : [h];
  autograd.backward([out, ...states], [randn(out.shape as number[]), ...states.map((s) => randn(s.shape as number[]))]);
  return { out, grads: [x.grad!, ...module.parameters().map((p) => p.grad!)] };
}

describe('thread team', () => {
  const before = getNumThreads();
  after(() => setNumThreads(before));
  const cases: [string, () => Module, boolean][] = [
    ['LSTM with projections, 2 layers, bidirectional', () => new LSTM({ inputSize: 40, hiddenSize: 64, projSize: 48, numLayers: 2, bidirectional: true }), false],
    ['GRU, packed, bidirectional', () => new GRU({ inputSize: 40, hiddenSize: 64, bidirectional: true }), true],
    ['RNN relu, 2 layers', () => new RNN({ inputSize: 40, hiddenSize: 112, numLayers: 2, nonlinearity: 'relu' }), false],
    ['LSTM, packed', () => new LSTM({ inputSize: 40, hiddenSize: 80 }), true],
  ];
  for (const [name, make, packed] of cases) {
    it(`${name}: 2 threads give the 1-thread forward and gradients`, () => {
      const one = run(1, make, packed);
      const two = run(2, make, packed);
      assert.ok(relativeError(two.out, one.out) <= 1e-6, 'output');
      one.grads.forEach((g, i) => {
        const err = relativeError(two.grads[i], g);
        assert.ok(err <= 1e-5, `gradient ${i}: relative error ${err}`);
      });
    });
  }
});
