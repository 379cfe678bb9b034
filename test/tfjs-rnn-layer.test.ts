// Checks that the TensorFlow.js benchmark peer (bench/tfjs-rnn-layer.ts) computes what node-rnn computes with the same
// weights: the forward output, and the gradients of the training step's loss sum(output * g). Skipped, with a
// message, where @tensorflow/tfjs or its wasm backend cannot be loaded.

import { strict as assert } from 'node:assert';
import { GRU, LSTM, Module, Tensor, autograd, manualSeed, noGrad, randn } from '../lib/index';
import { createTfjsPeer, fromKerasGradients, loadTfjs, toKerasWeights, type TfjsCell, type TfjsRuntime, type TfjsSpec } from '../bench/tfjs-rnn-layer';

const SPEC = { seqLen: 5, batch: 3, inputSize: 4, hiddenSize: 6 };
const TOLERANCE = 1e-4;

/** ‖a − b‖ / ‖b‖ in float64. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths');
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

function makeModule(cell: TfjsCell, seed: number): { module: Module; forward(x: Tensor): Tensor } {
  manualSeed(seed);
  const options = { inputSize: SPEC.inputSize, hiddenSize: SPEC.hiddenSize };
  if (cell === 'LSTM') {
    const m = new LSTM(options);
    return { module: m, forward: (x) => m.forward(x)[0] };
  }
  const m = new GRU(options);
  return { module: m, forward: (x) => m.forward(x)[0] };
}

const weightsOf = (m: Module): Record<string, Float32Array> =>
  Object.fromEntries(m.namedParameters().map(([name, p]) => [name, Float32Array.from(p.data as Float32Array)]));

describe('tfjs peer (bench/tfjs-rnn-layer.ts)', () => {
  it('converts weights to the Keras layout and gradients back (GRU: exact round trip)', () => {
    const spec: TfjsSpec = { cell: 'GRU', ...SPEC };
    const { module } = makeModule('GRU', 1);
    const w = weightsOf(module);
    const back = fromKerasGradients(spec, toKerasWeights(spec, w));
    for (const name of Object.keys(w)) assert.deepEqual(back[name], w[name], name);

    // LSTM: kernel[c][k*H + j] = weight_ih[k*H + j][c] (same gate order), bias = bias_ih + bias_hh
    const lstm = weightsOf(makeModule('LSTM', 2).module);
    const { inputSize: I, hiddenSize: H } = SPEC;
    const k = toKerasWeights({ cell: 'LSTM', ...SPEC }, lstm);
    assert.equal(k.kernel[3 * 4 * H + 2 * H + 5], lstm.weight_ih_l0[(2 * H + 5) * I + 3]);
    assert.equal(k.bias[H + 1], Math.fround(lstm.bias_ih_l0[H + 1] + lstm.bias_hh_l0[H + 1]));
    // GRU: Keras z (block 0) is PyTorch's block 1, Keras r (block 1) is PyTorch's block 0
    const g = toKerasWeights(spec, w);
    assert.equal(g.recurrentKernel[2 * 3 * H + 0 * H + 4], w.weight_hh_l0[(1 * H + 4) * H + 2]);
    assert.equal(g.bias[3 * H + 1 * H + 3], w.bias_hh_l0[0 * H + 3]);
  });

  describe('with @tensorflow/tfjs on the wasm backend', function () {
    let rt: TfjsRuntime | null = null;

    before(async function () {
      try {
        rt = await loadTfjs();
      } catch (error) {
        console.log(`      SKIPPED: @tensorflow/tfjs with the wasm backend could not be loaded: ${(error as Error).message.split('\n')[0]}`);
        this.skip();
      }
    });

    for (const cell of ['LSTM', 'GRU'] as const) {
      it(`${cell}: forward output and training gradients equal node-rnn's (T=5, B=3, I=4, H=6)`, () => {
        const spec: TfjsSpec = { cell, ...SPEC };
        const { module, forward } = makeModule(cell, cell === 'LSTM' ? 10 : 11);
        const x = randn([SPEC.seqLen, SPEC.batch, SPEC.inputSize]);
        const g = randn([SPEC.seqLen, SPEC.batch, SPEC.hiddenSize]);
        const peer = createTfjsPeer(rt!, spec, weightsOf(module));
        try {
          const ours = noGrad(() => forward(x)).data as Float32Array;
          const theirs = peer.forward(x.data as Float32Array);
          const err = relativeError(theirs, ours);
          assert.ok(err <= TOLERANCE, `${cell} output: relative error ${err.toExponential(2)} > ${TOLERANCE}`);
          assert.ok(ours.some((v) => Math.abs(v) > 1e-2), 'non-trivial output');

          // The benchmarked step's loss is sum(output * g): its gradients w.r.t. the weights must agree too.
          autograd.backward([forward(x)], [g]);
          peer.setBatch(x.data as Float32Array, g.data as Float32Array);
          const grads = peer.gradients();
          for (const [name, p] of module.namedParameters()) {
            const gerr = relativeError(grads[name], p.grad!.data as Float32Array);
            assert.ok(gerr <= TOLERANCE, `${cell} d loss / d ${name}: relative error ${gerr.toExponential(2)} > ${TOLERANCE}`);
          }

          // and one SGD step (lr 0.01) returns the loss before the update
          const loss = peer.trainStep();
          let expected = 0;
          for (let i = 0; i < ours.length; i++) expected += ours[i] * g.data[i];
          assert.ok(Math.abs(loss - expected) <= 1e-4 * Math.max(1, Math.abs(expected)), `loss ${loss} vs ${expected}`);
          const moved = peer.forward(x.data as Float32Array);
          assert.ok(relativeError(moved, theirs) > 1e-6, 'the step updated the weights');
        } finally {
          peer.dispose();
        }
      });
    }
  });
});
