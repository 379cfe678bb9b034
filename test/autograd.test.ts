// Autograd around the recurrent modules: when graphs are recorded, accumulation, and a finite-difference check
// of backward through inter-layer dropout (the reference cases have dropout 0).
import { strict as assert } from 'node:assert';
import { GRU, LSTM, RNN, Tensor, autograd, manualSeed, noGrad, randn, tensor } from '../lib/index';

function dot(a: Tensor, b: Tensor): number {
  let s = 0;
  for (let i = 0; i < a.numel; i++) s += a.data[i] * b.data[i];
  return s;
}

describe('autograd', () => {
  it('records a graph for a sync forward, not under noGrad or for forwardAsync', async () => {
    manualSeed(1);
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 4 });
    const x = randn([5, 2, 3]);
    assert.ok(lstm.forward(x)[0].gradFn, 'parameters require grad, so the output has a grad_fn');
    assert.equal(noGrad(() => lstm.forward(x)[0].gradFn), null);
    assert.equal((await lstm.forwardAsync(x))[0].gradFn, null);
    for (const p of lstm.parameters()) p.requiresGrad = false;
    assert.equal(lstm.forward(x)[0].gradFn, null, 'nothing requires grad');
    x.requiresGrad = true;
    assert.ok(lstm.forward(x)[0].gradFn, 'the input requires grad');
  });

  it('accumulates into .grad across backward calls, zeroGrad clears, a graph runs backward once', () => {
    manualSeed(2);
    const gru = new GRU({ inputSize: 3, hiddenSize: 4 });
    const x = randn([4, 2, 3]);
    const g = randn([4, 2, 4]);
    const [out1] = gru.forward(x);
    autograd.backward([out1], [g]);
    const first = Float32Array.from(gru.parameters()[0].grad!.data);
    assert.throws(() => autograd.backward([out1], [g]), /second time/);
    const [out2] = gru.forward(x);
    out2.backward(g);
    const twice = gru.parameters()[0].grad!.data;
    first.forEach((v, i) => assert.ok(Math.abs(twice[i] - 2 * v) <= 1e-6 * Math.max(1, Math.abs(v)), `grad[${i}] accumulates`));
    gru.zeroGrad();
    assert.equal(gru.parameters()[0].grad, null);
  });

  it('rejects backward from a tensor without a graph and a non-scalar without a gradient', () => {
    assert.throws(() => tensor([1, 2]).backward(), /does not require grad/);
    const rnn = new RNN({ inputSize: 2, hiddenSize: 3 });
    const [out] = rnn.forward(randn([2, 1, 2]));
    assert.throws(() => out.backward(), /only for scalar outputs/);
    assert.throws(() => out.backward(randn([2, 1, 4])), /Mismatch in shape/);
  });

  it('backward through training-mode dropout matches central differences (same seed, same masks)', () => {
    manualSeed(3);
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 3, dropout: 0.4 });
    const x = randn([6, 2, 3]).requiresGrad_();
    const g = randn([6, 2, 5]);
    const loss = (input: Tensor): number => {
      manualSeed(99); // the forward draws its dropout seed from the generator: same masks every time
      return noGrad(() => dot(lstm.forward(input)[0], g));
    };
    manualSeed(99);
    const [out] = lstm.forward(x);
    autograd.backward([out], [g]);
    const analytic = x.grad!.data;
    let masked = 0;
    for (const i of [0, 5, 11, 17, 23, 29, 35]) {
      const eps = 1e-2;
      const plus = x.clone();
      plus.data[i] += eps;
      const minus = x.clone();
      minus.data[i] -= eps;
      const numeric = (loss(plus) - loss(minus)) / (2 * eps);
      // float32 forward, eps 1e-2: differences are good to about 1e-3 of the gradient's scale
      assert.ok(Math.abs(numeric - analytic[i]) <= 2e-3 + 2e-2 * Math.abs(numeric), `d loss/d x[${i}]: numeric ${numeric}, backward ${analytic[i]}`);
      if (analytic[i] === 0) masked++;
    }
    assert.ok(masked < 7, 'the check is not vacuous');
  });
});
