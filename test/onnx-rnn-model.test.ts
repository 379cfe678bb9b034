// Checks that the ONNX Runtime benchmark peer computes the same function as
// PyTorch's nn.LSTM / nn.GRU / nn.RNN, against an independent float64 reference
// written from PyTorch's documented equations (test/helpers/rnn-reference.ts).

import { strict as assert } from 'node:assert';
import { createOnnxPeer, loadOnnxRuntime, type PeerSpec } from '../bench/onnx-rnn-model';
import { randomWeights, referenceRnn, relativeError, uniform } from './helpers/rnn-reference';

describe('bench/onnx-rnn-model (ONNX Runtime peer)', function () {
  before(function () {
    try {
      loadOnnxRuntime();
    } catch (err) {
      console.log(`    onnxruntime-node cannot be loaded, skipping the ONNX peer tests: ${(err as Error).message}`);
      this.skip();
    }
  });

  const base = { seqLen: 5, batch: 3, inputSize: 4, hiddenSize: 6, threads: 1 };
  const cases: PeerSpec[] = [];
  for (const cell of ['LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU'] as const) {
    cases.push({ ...base, cell, numLayers: 1, bidirectional: false });
    cases.push({ ...base, cell, numLayers: 2, bidirectional: false });
    cases.push({ ...base, cell, numLayers: 2, bidirectional: true });
  }
  cases.push({ cell: 'LSTM', seqLen: 1, batch: 1, inputSize: 3, hiddenSize: 5, numLayers: 1, bidirectional: true, threads: 2 });
  cases.push({ cell: 'GRU', seqLen: 7, batch: 2, inputSize: 8, hiddenSize: 3, numLayers: 3, bidirectional: true, threads: 2 });

  cases.forEach((spec, n) => {
    const name =
      `${spec.cell} T=${spec.seqLen} B=${spec.batch} I=${spec.inputSize} H=${spec.hiddenSize}` +
      ` layers=${spec.numLayers}${spec.bidirectional ? ' bidirectional' : ''}`;
    it(`matches PyTorch's ${name}`, async function () {
      const rand = uniform(1234 + n);
      const weights = randomWeights(spec, rand);
      const input = Float32Array.from({ length: spec.seqLen * spec.batch * spec.inputSize }, () => rand(-1, 1));

      const peer = await createOnnxPeer(spec, weights);
      try {
        const actual = await peer.run(input);
        const D = spec.bidirectional ? 2 : 1;
        assert.equal(actual.length, spec.seqLen * spec.batch * D * spec.hiddenSize);
        const err = relativeError(actual, referenceRnn(spec, weights, input));
        assert.ok(err <= 1e-5, `relative error ${err.toExponential(2)} > 1e-5`);
      } finally {
        await peer.release();
      }
    });
  });

  it('reports its onnxruntime version and rejects a wrongly sized input', async function () {
    const spec: PeerSpec = { ...base, cell: 'GRU', numLayers: 1, bidirectional: false };
    const peer = await createOnnxPeer(spec, randomWeights(spec, uniform(7)));
    try {
      assert.match(peer.version, /^\d+\.\d+\.\d+/);
      await assert.rejects(peer.run(new Float32Array(1)), /expected/);
    } finally {
      await peer.release();
    }
  });

  it('rejects weights of the wrong size', async function () {
    const spec: PeerSpec = { ...base, cell: 'LSTM', numLayers: 1, bidirectional: false };
    const weights = randomWeights(spec, uniform(8));
    weights['weight_hh_l0'] = new Float32Array(3);
    await assert.rejects(createOnnxPeer(spec, weights), /weight_hh_l0/);
  });
});
