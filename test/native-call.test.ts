// The native recurrent calls take one object with named fields (lib/binding.ts's NativeForwardCall and
// NativeBackwardCall). lib/ reports every bad argument first (errors.test.ts); these call the addon directly, as
// nothing in lib/ would, and check its backstop: every argument it cannot use safely is a thrown JS error, never
// a read outside the memory it was given.
import { strict as assert } from 'node:assert';
import { GRU, LSTM, Tensor, manualSeed, randn } from '../lib/index';
import { NativeBackwardCall, NativeForwardCall, native } from '../lib/binding';
import { throwsExactly, rejectsExactly } from './helpers/assertions';

/** The call objects lib/ sends for one recording LSTM forward (2 layers, bidirectional, projections) and its backward. */
function recordedLstmCall(): { call: NativeForwardCall; out: Tensor; params: Tensor[] } {
  manualSeed(21);
  const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, projSize: 2 });
  const seen: NativeForwardCall[] = [];
  const real = native.rnnForward;
  native.rnnForward = (call) => (seen.push(call), real(call));
  try {
    const [out] = lstm.forward(randn([5, 2, 3]));
    assert.equal(seen.length, 1);
    return { call: seen[0], out, params: lstm.parameters() };
  } finally {
    native.rnnForward = real;
  }
}

/** A recorded call's backward with fresh gradients: dL/d(output) = `gradOutput`, the rest zero-filled. */
function backwardCall(call: NativeForwardCall, gradOutput: Float32Array): NativeBackwardCall {
  const f32 = (x: unknown) => new Float32Array((x as Float32Array).length);
  return {
    ...call, saved: (call.saved as Float32Array).slice(), gradOutput, gradHN: null, gradCN: null, gradInput: f32(call.input),
    gradH0: null, gradC0: null, gradWeights: call.weights.map(f32),
  };
}

describe('native recurrent calls: one object, read by name', () => {
  it('a direct call computes what the module computed, forward and backward', () => {
    const { call, out, params } = recordedLstmCall();
    const output = new Float32Array(call.output.length);
    native.rnnForward({ ...call, output, hN: new Float32Array(call.hN.length), cN: new Float32Array(call.cN!.length), saved: null });
    assert.deepEqual(output, out.data);
    // the graph's backward is the same native call
    const g = randn(out.shape);
    const direct = backwardCall(call, g.data);
    native.rnnBackward(direct);
    out.backward(g);
    params.forEach((p, i) => assert.deepEqual(direct.gradWeights[i], p.grad!.data, `gradient of parameter ${i}`));
    assert.ok(direct.gradWeights.every((w) => (w as Float32Array).some((v) => v !== 0)));
  });

  it('refuses what is not one call object with a spec', () => {
    const { call } = recordedLstmCall();
    const forward = native.rnnForward as (...a: unknown[]) => void;
    for (const args of [[], [call, call], [[call]], ['call'], [null]]) {
      throwsExactly(() => forward(...args), TypeError, 'native forward: expected one call object');
    }
    throwsExactly(() => native.rnnForward({ ...call, spec: null as never }), TypeError, 'native forward: spec must be an object');
    throwsExactly(() => native.rnnForward({ ...call, weights: {} as never }), TypeError, 'native forward: weights must be an array');
    const spec = (change: object) => ({ ...call, spec: { ...call.spec, ...change } });
    throwsExactly(() => native.rnnForward(spec({ kind: 4 })), TypeError, 'native forward: spec.kind must be 0..3');
    throwsExactly(() => native.rnnForward(spec({ hiddenSize: 4.5 })), TypeError, 'native forward: spec.hiddenSize must be a 32-bit integer');
    throwsExactly(() => native.rnnForward(spec({ seqLen: 2 ** 31 })), TypeError, 'native forward: spec.seqLen must be a 32-bit integer');
    throwsExactly(() => native.rnnForward(spec({ batch: '2' })), TypeError, 'native forward: spec.batch must be a number');
    throwsExactly(() => native.rnnForward(spec({ bias: 1 })), TypeError, 'native forward: spec.bias must be a boolean');
    throwsExactly(() => native.rnnForward(spec({ dtype: undefined })), TypeError, "native forward: spec.dtype must be 'float32', 'float16', 'bfloat16' or 'int8'");
    throwsExactly(() => native.rnnForward(spec({ dtype: 'float64' })), TypeError, "native forward: spec.dtype must be 'float32', 'float16', 'bfloat16' or 'int8'");
  });

  it('refuses a field of another type, a missing field, and a host array of another element type', () => {
    const { call } = recordedLstmCall();
    throwsExactly(() => native.rnnForward({ ...call, input: undefined as never }), TypeError, 'native forward: input must be a Float32Array or a CUDA buffer');
    throwsExactly(() => native.rnnForward({ ...call, input: new Float64Array(30) as never }), TypeError, 'native forward: input must be a Float32Array or a CUDA buffer');
    // a float32 call has no 16-bit host arrays
    throwsExactly(() => native.rnnForward({ ...call, hN: new Uint16Array(call.hN.length) }), TypeError, 'native forward: hN must be a Float32Array or a CUDA buffer');
    const { h0: _h0, ...noH0 } = call;
    throwsExactly(() => native.rnnForward(noH0 as never), TypeError, 'native forward: h0 must be a Float32Array, a CUDA buffer or null');
    throwsExactly(() => native.rnnForward({ ...call, weights: [...call.weights.slice(1), [1, 2]] as never }), TypeError,
      `native forward: weights[${call.weights.length - 1}] must be a Float32Array or a CUDA buffer`);
    throwsExactly(() => native.rnnForward({ ...call, batchSizes: [5, 5] as never }), TypeError, 'native forward: batchSizes must be an Int32Array or null');
    // float16 has no CPU kernels: a Uint16Array of its bits on the host is refused
    const half = { ...call, spec: { ...call.spec, dtype: 'float16' as const }, saved: null };
    throwsExactly(() => native.rnnForward(half), TypeError, 'native forward: float16 runs only on CUDA (bfloat16 runs on the CPU too)');
  });

  it('refuses every buffer whose length is not the one the spec implies', () => {
    const { call } = recordedLstmCall();
    const short = (x: unknown) => new Float32Array((x as Float32Array).length - 1);
    throwsExactly(() => native.rnnForward({ ...call, input: short(call.input) }), RangeError, 'native check: input has 29 elements, expected 30');
    throwsExactly(() => native.rnnForward({ ...call, output: short(call.output) }), RangeError, 'native check: output has 39 elements, expected 40');
    throwsExactly(() => native.rnnForward({ ...call, hN: short(call.hN) }), RangeError, 'native check: h_n has 15 elements, expected 16');
    throwsExactly(() => native.rnnForward({ ...call, cN: short(call.cN) }), RangeError, 'native check: c_n has 31 elements, expected 32');
    throwsExactly(() => native.rnnForward({ ...call, h0: new Float32Array(17) }), RangeError, 'native check: h0 has 17 elements, expected 16');
    throwsExactly(() => native.rnnForward({ ...call, weights: [short(call.weights[0]), ...call.weights.slice(1)] }), RangeError, 'native check: weight_ih has 47 elements, expected 48');
    throwsExactly(() => native.rnnForward({ ...call, weights: call.weights.slice(1) }), RangeError, 'native check: wrong number of weight tensors');
    throwsExactly(() => native.rnnForward({ ...call, spec: { ...call.spec, hiddenSize: 0 } }), RangeError, 'native check: sizes must be positive');
    // packed batch sizes must describe the input's rows
    throwsExactly(() => native.rnnForward({ ...call, batchSizes: Int32Array.of(2, 2, 2, 2, 3) }), RangeError, 'native check: batchSizes must be positive and non-increasing');
    throwsExactly(() => native.rnnForward({ ...call, batchSizes: Int32Array.of(2, 2) }), RangeError, 'native check: batchSizes length must equal seqLen');
  });

  it('refuses a bad backward: no saved state, a half dtype, gradients of the wrong length or count', () => {
    const { call } = recordedLstmCall();
    const good = backwardCall(call, new Float32Array(call.output.length));
    throwsExactly(() => native.rnnBackward({ ...good, saved: null as never }), TypeError, 'native backward: saved must be a Float32Array or a CUDA buffer');
    throwsExactly(() => native.rnnBackward({ ...good, spec: { ...good.spec, dtype: 'bfloat16' } }), TypeError, "native backward: spec.dtype must be 'float32'");
    throwsExactly(() => native.rnnBackward({ ...good, gradOutput: new Float32Array(3) }), RangeError, 'native check: grad_output has 3 elements, expected 40');
    throwsExactly(() => native.rnnBackward({ ...good, gradInput: new Float32Array(3) }), RangeError, 'native check: grad_input has 3 elements, expected 30');
    throwsExactly(() => native.rnnBackward({ ...good, gradWeights: good.gradWeights.slice(1) }), RangeError, 'native check: wrong number of weight gradients');
    throwsExactly(() => native.rnnBackward({ ...good, gradWeights: [new Float32Array(1), ...good.gradWeights.slice(1)] }), RangeError, 'native check: weight gradient has 1 elements, expected 48');
    const { gradC0: _gradC0, ...noGradC0 } = good;
    throwsExactly(() => native.rnnBackward(noGradC0 as never), TypeError, 'native backward: gradC0 must be a Float32Array, a CUDA buffer or null');
    throwsExactly(() => native.rnnBackward({ ...good, saved: new Float32Array(3) }), RangeError, /^native check: saved has 3 elements, expected \d+$/);
  });

  it('the async forward refuses the same calls before queueing anything, and runs a good one', async () => {
    manualSeed(22);
    const gru = new GRU({ inputSize: 2, hiddenSize: 3 });
    const x = randn([4, 1, 2]);
    const weights = gru.parameters().map((p) => p.data);
    const call: NativeForwardCall = {
      spec: { kind: 3, inputSize: 2, hiddenSize: 3, projSize: 0, numLayers: 1, bidirectional: false, bias: true, batchFirst: false, seqLen: 4, batch: 1, dropout: 0, training: false, seed: 0, dtype: 'float32' },
      weights, input: x.data, h0: null, c0: null, output: new Float32Array(12), hN: new Float32Array(3), cN: null, batchSizes: null, saved: null,
    };
    throwsExactly(() => native.rnnForwardAsync({ ...call, output: new Float32Array(11) }), RangeError, 'native check: output has 11 elements, expected 12');
    throwsExactly(() => native.rnnForwardAsync({ ...call, input: [1, 2] as never }), TypeError, 'native forward: input must be a Float32Array or a CUDA buffer');
    await rejectsExactly(async () => native.rnnForwardAsync({ ...call, hN: null as never }), TypeError, 'native forward: hN must be a Float32Array or a CUDA buffer');
    await native.rnnForwardAsync(call);
    const [out, h] = gru.forward(x);
    assert.deepEqual(call.output, out.data);
    assert.deepEqual(call.hN, h.data);
  });
});
