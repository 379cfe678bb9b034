// optimizeForInference: float32 modules whose LSTM / GRU weights are packed once for the CPU step kernels
// (native/cpu/f32_prepack.cpp) instead of in every forward. The packed forms hold the same panels a call packs, so
// every result must be the float32 module's to the bit: on every PyTorch reference case (and within 1e-5 of its
// float64 reference), at batch sizes that pick each panel layout (1: W_hh panels and the input projection first;
// 4 and more: W_ih and W_hh fused), with packed sequences, states, cells, sync and async. Then the copy's contract
// (a snapshot without parameters, inference-only) and the native backstop for packed forms that do not fit.
import { strict as assert } from 'node:assert';
import {
  GRU, GRUCell, LSTM, LSTMCell, Linear, Module, RNN, Sequential, Tensor, getNumThreads, manualSeed, noGrad, optimizeForInference,
  packPaddedSequence, quantizeDynamic, randn, setNumThreads, tensor,
} from '../lib/index';
import { NativeForwardCall, native } from '../lib/binding';
import { buildModule, fixtureNames, loadFixture } from './helpers/fixtures';
import { ON_CPU, RESULT_KEYS, compareForward, forwardCase } from './helpers/forward';
import { throwsExactly } from './helpers/assertions';
import { bits, nativeCalls, sameBits } from './helpers/same-bits';

describe('optimizeForInference: weights packed once, the same results to the bit', () => {
  describe('every PyTorch reference case: the float32 module\'s bits, and within 1e-5 of the float64 reference', () => {
    for (const file of fixtureNames()) {
      it(file.replace(/\.safetensors$/, ''), async () => {
        const f = loadFixture(file);
        const module = buildModule(f);
        module.loadStateDict(Object.fromEntries(module.namedParameters().map(([name]) => [name, f.tensors[name]])));
        module.eval(); // the copy is in eval mode: dropout between layers off, as the reference cases compute
        const float = noGrad(() => forwardCase(f, module, ON_CPU).run());
        const prepared = optimizeForInference(module);
        const c = forwardCase(f, prepared, ON_CPU);
        const ours = c.run();
        for (const k of RESULT_KEYS.filter((key) => float[key])) assert.deepEqual(bits(ours[k]), bits(float[k]), `${f.name}: ${k}`);
        compareForward(f, ours, 1e-5);
        const later = await c.runAsync();
        for (const k of RESULT_KEYS.filter((key) => float[key])) assert.deepEqual(bits(later[k]), bits(float[k]), `${f.name}: async ${k}`);
      });
    }
  });

  const threads = getNumThreads();
  afterEach(() => setNumThreads(threads));

  const shapes: [string, () => Module, number[]][] = [
    ['LSTM, H = 37 (a partial unit group)', () => new LSTM({ inputSize: 11, hiddenSize: 37 }), [1, 2, 5]],
    ['LSTM 2 layers bidirectional with projections', () => new LSTM({ inputSize: 9, hiddenSize: 40, projSize: 13, numLayers: 2, bidirectional: true }), [1, 3, 6]],
    ['LSTM without bias, batchFirst', () => new LSTM({ inputSize: 16, hiddenSize: 64, bias: false, batchFirst: true }), [1, 4]],
    ['GRU 2 layers', () => new GRU({ inputSize: 10, hiddenSize: 48, numLayers: 2 }), [1, 2, 7]],
    ['GRU bidirectional without bias, H = 21', () => new GRU({ inputSize: 5, hiddenSize: 21, bidirectional: true, bias: false }), [1, 4]],
    ['GRU with large weights (fused panels do not fit: the input projection first at every batch)', () => new GRU({ inputSize: 700, hiddenSize: 640 }), [1, 5]],
    ['RNN (nothing to pack: a snapshot of the weights)', () => new RNN({ inputSize: 8, hiddenSize: 24, nonlinearity: 'relu' }), [1, 3]],
  ];
  for (const [name, make, batches] of shapes) {
    it(`${name}: batch ${batches.join(', ')}, 1 and 2 threads, with states, 1 step and 9`, () => {
      manualSeed(7);
      const m = make() as LSTM;
      const p = optimizeForInference(m);
      const calls = nativeCalls(() => noGrad(() => p.forward(randn([2, 1, m.inputSize]))));
      assert.equal(calls.length, 1);
      const layerDirections = m.numLayers * (m.bidirectional ? 2 : 1);
      if (m instanceof RNN) assert.equal(calls[0].prepacked, undefined);
      else assert.equal(calls[0].prepacked?.length, layerDirections);
      for (const t of [1, 2]) {
        setNumThreads(t);
        for (const B of batches) {
          for (const T of [1, 9]) {
            const x = randn(m.batchFirst ? [B, T, m.inputSize] : [T, B, m.inputSize]);
            const P = m instanceof LSTM && m.projSize > 0 ? m.projSize : m.hiddenSize;
            const h0 = randn([layerDirections, B, P]), c0 = randn([layerDirections, B, m.hiddenSize]);
            const state = (m instanceof LSTM ? [h0, c0] : h0) as [Tensor, Tensor];
            const label = `${name}, ${t} thread(s), ${T} x ${B}`;
            sameBits(noGrad(() => m.forward(x)), p.forward(x), label);
            sameBits(noGrad(() => m.forward(x, state)), p.forward(x, state), `${label}, with states`);
          }
        }
      }
    });
  }

  it('packed sequences (rows shrink step by step) and forwardAsync', async () => {
    manualSeed(3);
    for (const m of [new LSTM({ inputSize: 6, hiddenSize: 33, bidirectional: true }), new GRU({ inputSize: 6, hiddenSize: 50, numLayers: 2 })]) {
      const p = optimizeForInference(m);
      const packed = () => packPaddedSequence(randn([8, 6, 6]), tensor([8, 3, 7, 1, 5, 8]) as never, { enforceSorted: false });
      manualSeed(4);
      const x1 = packed();
      manualSeed(4);
      const x2 = packed();
      const a = noGrad(() => (m as LSTM).forward(x1 as never));
      const b = await (p as LSTM).forwardAsync(x2 as never);
      sameBits([a[0].data, a[1]], [b[0].data, b[1]], `${m.constructor.name} packed`);
    }
  });

  it('cells: LSTMCell and GRUCell at batch 1 (one step, unpacked) and 5 (packed), sync and async', async () => {
    manualSeed(5);
    for (const m of [new LSTMCell({ inputSize: 12, hiddenSize: 45 }), new GRUCell({ inputSize: 12, hiddenSize: 30 })]) {
      const p = optimizeForInference(m);
      for (const B of [1, 5]) {
        const x = randn([B, 12]);
        const h = randn([B, m.hiddenSize]);
        const state = (m instanceof LSTMCell ? [h, randn([B, m.hiddenSize])] : h) as [Tensor, Tensor];
        const cell = m as LSTMCell, fast = p as LSTMCell;
        sameBits(noGrad(() => cell.forward(x, state)), fast.forward(x, state), `${m.constructor.name} batch ${B}`);
        sameBits(noGrad(() => cell.forward(x, state)), await fast.forwardAsync(x, state), `${m.constructor.name} batch ${B} async`);
      }
    }
  });

  it('is a snapshot: a new module of the same class without parameters, in eval mode; the original untouched and unseen', () => {
    manualSeed(9);
    const lstm = new LSTM({ inputSize: 4, hiddenSize: 20, dropout: 0.5, numLayers: 2 });
    const model = new Sequential(lstm as never, new Linear({ inFeatures: 20, outFeatures: 3 }) as never);
    const before = lstm.namedParameters().map(([n, t]) => [n, bits(t)]);
    const p = optimizeForInference(model);
    assert.ok(p instanceof Sequential && p !== model);
    const inner = (p as unknown as { children(): Module[] }).children();
    assert.ok(inner[0] instanceof LSTM && inner[0] !== lstm && inner[1] instanceof Linear);
    assert.deepEqual(inner[0].parameters(), []);
    assert.equal(inner[1].parameters().length, 2);
    assert.ok(inner[1].parameters().every((t) => !t.requiresGrad));
    assert.equal(p.training, false);
    assert.equal(model.training, true);
    assert.deepEqual(lstm.namedParameters().map(([n, t]) => [n, bits(t)]), before);
    assert.ok(lstm.parameters().every((t) => t.requiresGrad));
    const x = randn([5, 2, 4]);
    lstm.eval();
    const [expected] = noGrad(() => lstm.forward(x));
    const [got] = (inner[0] as LSTM).forward(x);
    assert.deepEqual(bits(got), bits(expected));
    // writes into the original's weights are not seen by the copy
    lstm.parameters().forEach((t) => t.data.fill(0.25));
    const [after] = (inner[0] as LSTM).forward(x);
    assert.deepEqual(bits(after), bits(expected));
    // optimizing a copy copies it (the same packed forms, the same results)
    const again = optimizeForInference(inner[0] as LSTM);
    assert.deepEqual(bits(again.forward(x)[0]), bits(expected));
  });

  it('refuses what needs trainable weights: recording for backward, moves, conversions, state dicts', async () => {
    manualSeed(2);
    const m = new GRU({ inputSize: 3, hiddenSize: 8 });
    const p = optimizeForInference(m);
    const x = randn([4, 1, 3]);
    x.requiresGrad = true;
    const recording = /GRU was made by optimizeForInference and is inference-only: it has no backward/;
    assert.throws(() => p.forward(x), recording);
    await assert.rejects(() => p.forwardAsync(x), recording);
    const cell = optimizeForInference(new LSTMCell({ inputSize: 3, hiddenSize: 8 }));
    assert.throws(() => cell.forward(randn([1, 3]).requiresGrad_()), /LSTMCell was made by optimizeForInference/);
    noGrad(() => p.forward(x)); // under noGrad it runs
    throwsExactly(() => p.to('bfloat16'), Error, /^GRU is or holds modules made by optimizeForInference, which cannot convert to bfloat16/);
    throwsExactly(() => p.to('cuda:0'), Error, /^GRU is or holds modules made by optimizeForInference, which cannot move to cuda:0/);
    throwsExactly(() => p.loadStateDict(m.stateDict()), Error, /which cannot load weights with loadStateDict/);
    assert.deepEqual(Object.keys(p.stateDict()), []);
  });

  it('bad arguments: not a module, options, quantized modules, disposed parameters (dtypes: inference-bf16.test.ts)', () => {
    throwsExactly(() => optimizeForInference({} as never), TypeError, 'Expected a Module for module but received an object');
    const m = new LSTM({ inputSize: 3, hiddenSize: 4 });
    throwsExactly(() => optimizeForInference(m, { dtype: 'int8' as never }), RangeError, 'Expected dtype \'float32\' or \'bfloat16\' for optimizeForInference but received "int8" (for int8 weights use quantizeDynamic)');
    throwsExactly(() => optimizeForInference(m, { threads: 2 } as never), TypeError, /threads/);
    throwsExactly(() => optimizeForInference(quantizeDynamic(m)), Error, 'optimizeForInference: the module was made by quantizeDynamic; optimize the float32 module instead');
    const gone = new GRU({ inputSize: 3, hiddenSize: 4 });
    gone.parameters()[1].dispose();
    throwsExactly(() => optimizeForInference(gone), Error, 'optimizeForInference: parameter weight_hh_l0 has been disposed');
  });

  describe('the native backstop: packed forms that do not fit the call are refused before any kernel runs', () => {
    function call(): NativeForwardCall {
      manualSeed(11);
      const p = optimizeForInference(new LSTM({ inputSize: 5, hiddenSize: 20, numLayers: 2 }));
      return nativeCalls(() => p.forward(randn([3, 2, 5])))[0];
    }
    const run = (c: NativeForwardCall) => native.rnnForward(c);

    it('a direct call with the module\'s packed forms computes what it computed', () => {
      const c = call();
      const expected = Float32Array.from(c.output as Float32Array);
      (c.output as Float32Array).fill(0);
      run(c);
      assert.deepEqual(Array.from(c.output as Float32Array), Array.from(expected));
    });

    it('wrong counts, types, sizes, layers swapped, truncated or corrupted forms, other calls', () => {
      const c = call();
      const [first, second] = c.prepacked!;
      throwsExactly(() => run({ ...c, prepacked: [first] }), RangeError, 'native check: wrong number of packed weights');
      throwsExactly(() => run({ ...c, prepacked: {} as never }), TypeError, 'native forward: prepacked must be an array of Uint8Arrays or null');
      throwsExactly(() => run({ ...c, prepacked: [first, new Float32Array(4) as never] }), TypeError, 'native forward: prepacked[1] must be a Uint8Array');
      // layer 1 takes 20 inputs, layer 0 takes 5
      throwsExactly(() => run({ ...c, prepacked: [second, first] }), RangeError, /^native check: prepacked\[0\]: packed weights were made for other sizes \(kind 2, input 20, hidden 20, out 20\)/);
      throwsExactly(() => run({ ...c, prepacked: [first, second.subarray(0, second.length - 100)] }), RangeError, 'native check: prepacked[1]: packed weights are truncated');
      throwsExactly(() => run({ ...c, prepacked: [first, second.subarray(0, 10)] }), RangeError, 'native check: prepacked[1]: packed weights are too short to be a packed form');
      const bad = Uint8Array.from(second);
      bad[0] ^= 1;
      throwsExactly(() => run({ ...c, prepacked: [first, bad] }), RangeError, 'native check: prepacked[1]: packed weights are not a float32 packed form');
      const offset = Uint8Array.from(second);
      new DataView(offset.buffer).setBigInt64(40, 1n << 40n, true); // dataOffset
      throwsExactly(() => run({ ...c, prepacked: [first, offset] }), RangeError, 'native check: prepacked[1]: packed weights have a bad data offset');
      throwsExactly(() => run({ ...c, prepacked: [first, second.subarray(1)] }), RangeError, 'native check: prepacked[1]: packed weights are not aligned to 4 bytes');
      throwsExactly(() => run({ ...c, spec: { ...c.spec, dtype: 'bfloat16' } }), TypeError, 'native forward: weights[0] holds float32, expected bfloat16 in this call');
      throwsExactly(() => run({ ...c, spec: { ...c.spec, kind: 3 } }), RangeError, 'native check: weight_ih has 400 elements, expected 300');
      const gru = nativeCalls(() => optimizeForInference(new GRU({ inputSize: 5, hiddenSize: 20, numLayers: 2 })).forward(randn([3, 2, 5])))[0];
      throwsExactly(() => run({ ...gru, prepacked: c.prepacked }), RangeError, /^native check: prepacked\[0\]: packed weights were made for other sizes \(kind 2,/);
      const rnn = nativeCalls(() => noGrad(() => new RNN({ inputSize: 5, hiddenSize: 20, numLayers: 2 }).forward(randn([3, 2, 5]))))[0];
      throwsExactly(() => run({ ...rnn, prepacked: c.prepacked }), RangeError, 'native check: packed weights are for LSTM and GRU');
    });

    it('f32Prepack checks its arguments', () => {
      const w = (n: number) => new Float32Array(n);
      throwsExactly(() => native.f32Prepack(0, 2, 3, 3, w(18), w(27), null, null), RangeError, 'f32Prepack: kind must be LSTM or GRU');
      throwsExactly(() => native.f32Prepack(2, 2, 3, 3, w(23), w(36), null, null), RangeError, 'f32Prepack: wIh has 23 elements, expected 24');
      throwsExactly(() => native.f32Prepack(2, -1, 3, 3, w(24), w(36), null, null), RangeError, 'f32Prepack: I must be an integer in [0, 2147483647]');
      throwsExactly(() => native.f32Prepack(3, 2, 3, 3, w(18), w(27), w(9), null), TypeError, 'f32Prepack: bIh and bHh must both be given or both be null');
      throwsExactly(() => native.f32Prepack(3, 2, 3, 3, w(18), new Uint8Array(27) as never, null, null), TypeError, 'f32Prepack: wHh must be a Float32Array');
    });
  });
});
