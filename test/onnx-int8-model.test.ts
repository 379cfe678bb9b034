// ONNX Runtime's own int8 LSTM, the bench's peer on int8 rows (bench/onnx-int8.ts): its output against an
// independent float64 reference of the arithmetic DynamicQuantizeLSTM is meant to do (weights quantized here to
// symmetric int8, per gate row or per direction, and used dequantized; each GEMM operand, a direction's whole input
// sequence and h_{t-1} at every step, quantized to uint8 with its own min/max), and against the float32 reference,
// which it must miss by about int8's error. One intra-op thread: with more, ONNX Runtime splits the batch and
// quantizes each part of h_{t-1} with its own range.

import { strict as assert } from 'node:assert';
import { quantizeSymmetric, weightType, type Int8Scales } from '../bench/onnx-int8';
import { buildOnnxModel, createOnnxPeer, loadOnnxRuntime, type PeerSpec } from '../bench/onnx-rnn-model';
import { INT8_TOLERANCE } from '../bench/peer-onnx';
import { randomWeights, referenceRnn, relativeError, uniform, type Quantization } from './helpers/rnn-reference';

/** Round half to even, written from the definition. */
function roundEven(x: number): number {
  const f = Math.floor(x);
  const frac = x - f;
  if (frac > 0.5) return f + 1;
  if (frac < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Symmetric int8 weights: scale = max|w| / 127 over each row or the whole matrix; the dequantized values. */
function dequantizedWeights(scales: Int8Scales): Quantization['weight'] {
  return (w, rows, cols) => {
    const out = new Float64Array(w.length);
    const group = scales === 'per-row' ? cols : rows * cols;
    for (let start = 0; start < w.length; start += group) {
      let absMax = 0;
      for (let i = start; i < start + group; i++) absMax = Math.max(absMax, Math.abs(w[i]!));
      const scale = Math.fround(absMax / 127);
      for (let i = start; i < start + group; i++) out[i] = Math.max(-127, Math.min(127, roundEven(w[i]! / scale))) * scale;
    }
    return out;
  };
}

/** A GEMM operand as ONNX Runtime quantizes it: uint8 over [min(0, min), max(0, max)], in float32 arithmetic. */
function uint8Operand(a: Float64Array): Float64Array {
  let min = 0;
  let max = 0;
  for (const v of a) {
    min = Math.min(min, Math.fround(v));
    max = Math.max(max, Math.fround(v));
  }
  const scale = max === min ? 1 : Math.fround(Math.fround(max - min) / 255);
  const zero = roundEven(Math.min(255, Math.max(0, Math.fround(-min / scale))));
  return a.map((v) => (Math.min(255, Math.max(0, roundEven(Math.fround(Math.fround(v) / scale)) + zero)) - zero) * scale);
}

describe('bench/onnx-int8 (ONNX Runtime int8 LSTM peer)', function () {
  before(function () {
    try {
      loadOnnxRuntime();
    } catch (err) {
      console.log(`    onnxruntime-node cannot be loaded, skipping the ONNX int8 peer tests: ${(err as Error).message}`);
      this.skip();
    }
  });

  it('stores the weights as int8 only where the CPU has VNNI (ONNX Runtime saturates int8 x uint8 without it)', () => {
    assert.equal(weightType('fpu avx2 fma avx512f avx512bw avx512_vnni'), 'int8');
    assert.equal(weightType('fpu avx2 fma avx_vnni'), 'int8');
    assert.equal(weightType('fpu avx2 fma avx512f avx512bw'), 'uint8');
    assert.equal(weightType('fpu avx avx2 fma'), 'uint8');
    assert.equal(weightType(null), 'int8', 'no /proc/cpuinfo: as quantize_dynamic writes them');
  });

  it('quantizes weights symmetrically, rounding halves to even', () => {
    // every row holds +-127, so each scale is exactly 1 and w / scale hits the halves exactly; the last row is zeros
    const w = Float32Array.from([127, 2.5, 3.5, -127, -0.5, 127, 1.5, 127, -127, -1.5, 0, 0]);
    const expected = [127, 2, 4, -127, 0, 127, 2, 127, -127, -2, 0, 0];
    for (const scales of ['per-row', 'per-direction'] as const) {
      const { q, scale } = quantizeSymmetric(w, 2, 3, 2, scales);
      assert.deepEqual(Array.from(q), expected, scales);
      assert.deepEqual(Array.from(scale), scales === 'per-row' ? [1, 1, 1, 1, 1, 1] : [1, 1]);
    }
    // a scale below 1: max |w| maps to 127 and every value to within half a step
    const small = Float32Array.from([0.5, -0.25, 0.1, 0.37]);
    const { q, scale } = quantizeSymmetric(small, 1, 1, 4, 'per-row');
    assert.equal(scale[0], Math.fround(0.5 / 127));
    assert.equal(q[0], 127);
    small.forEach((v, i) => assert.ok(Math.abs(q[i]! * scale[0]! - v) <= scale[0]! / 2, `element ${i}`));
  });

  const cases: { spec: PeerSpec; scales: Int8Scales }[] = [
    { spec: { cell: 'LSTM', seqLen: 6, batch: 3, inputSize: 10, hiddenSize: 12, numLayers: 1, bidirectional: false, threads: 1 }, scales: 'per-row' },
    { spec: { cell: 'LSTM', seqLen: 5, batch: 4, inputSize: 8, hiddenSize: 16, numLayers: 2, bidirectional: true, threads: 1 }, scales: 'per-row' },
    { spec: { cell: 'LSTM', seqLen: 7, batch: 2, inputSize: 12, hiddenSize: 8, numLayers: 1, bidirectional: true, threads: 1 }, scales: 'per-direction' },
  ];
  cases.forEach(({ spec, scales }, n) => {
    const name = `T=${spec.seqLen} B=${spec.batch} I=${spec.inputSize} H=${spec.hiddenSize} layers=${spec.numLayers}${spec.bidirectional ? ' bidirectional' : ''}, scales ${scales}`;
    it(`does the quantized arithmetic and misses float32 by int8's error: LSTM ${name}`, async () => {
      const rand = uniform(4321 + n);
      const weights = randomWeights(spec, rand);
      const input = Float32Array.from({ length: spec.seqLen * spec.batch * spec.inputSize }, () => rand(-1, 1));
      const peer = await createOnnxPeer({ ...spec, int8: scales }, weights);
      try {
        const actual = await peer.run(input);
        const toQuantized = relativeError(actual, referenceRnn(spec, weights, input, { weight: dequantizedWeights(scales), operand: uint8Operand }));
        const toFloat = relativeError(actual, referenceRnn(spec, weights, input));
        assert.ok(toQuantized <= 2e-5, `relative error to the quantized reference ${toQuantized.toExponential(2)} > 2e-5`);
        assert.ok(toFloat >= 1e-3 && toFloat <= INT8_TOLERANCE, `relative error to float32 ${toFloat.toExponential(2)} is not int8's`);
      } finally {
        await peer.release();
      }
    });
  });

  it('has no int8 GRU or RNN, saying why', () => {
    const spec: PeerSpec = { cell: 'GRU', seqLen: 2, batch: 1, inputSize: 3, hiddenSize: 4, numLayers: 1, bidirectional: false, threads: 1, int8: 'per-row' };
    assert.throws(() => buildOnnxModel(spec, randomWeights(spec, uniform(1))), /no dynamically quantized GRU\/RNN operator/);
  });
});
