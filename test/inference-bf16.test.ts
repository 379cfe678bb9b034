// optimizeForInference with dtype 'bfloat16': the recurrent submodules' weights rounded to bfloat16 as
// module.bfloat16() rounds them, LSTM's and GRU's packed once into the bfloat16 step kernels' pair panels
// (native/cpu/bf16_prepack.cpp: W_hh, W_ih for the projection of all steps, both fused, W_hr). The packed forms
// hold the panels a bfloat16 call packs, so every result must be module.bfloat16()'s to the bit: on every PyTorch
// reference case, at batch sizes that pick each layout, with float32 and bfloat16 inputs, states, packed
// sequences, projections and cells. Then the dtype rules and the native backstop for forms of the other dtype.
import { strict as assert } from 'node:assert';
import {
  GRU, GRUCell, LSTM, LSTMCell, Linear, Module, RNN, Sequential, Tensor, getNumThreads, manualSeed, noGrad, optimizeForInference,
  packPaddedSequence, randn, setNumThreads, tensor,
} from '../lib/index';
import { NativeForwardCall, native } from '../lib/binding';
import { buildModule, fixtureNames, loadFixture } from './helpers/fixtures';
import { ON_CPU, RESULT_KEYS, forwardCase } from './helpers/forward';
import { throwsExactly } from './helpers/assertions';
import { bits, nativeCalls, sameBits } from './helpers/same-bits';

/** A float32 module, its bfloat16 prepared copy, and the module itself converted in place to bfloat16. */
function pair<M extends Module>(make: () => M): { prepared: M; reference: M } {
  const m = make();
  const prepared = optimizeForInference(m, { dtype: 'bfloat16' });
  m.eval();
  return { prepared, reference: m.bfloat16() };
}

describe('optimizeForInference with dtype bfloat16: module.bfloat16()\'s results to the bit, weights packed once', () => {
  describe('every PyTorch reference case (float32 inputs and states)', () => {
    for (const file of fixtureNames()) {
      it(file.replace(/\.safetensors$/, ''), async () => {
        const f = loadFixture(file);
        const { prepared, reference } = pair(() => {
          const module = buildModule(f);
          module.loadStateDict(Object.fromEntries(module.namedParameters().map(([name]) => [name, f.tensors[name]])));
          return module;
        });
        assert.equal(prepared.dtype, 'bfloat16');
        const expected = noGrad(() => forwardCase(f, reference, ON_CPU).run());
        const c = forwardCase(f, prepared, ON_CPU);
        const ours = c.run();
        for (const k of RESULT_KEYS.filter((key) => expected[key])) assert.deepEqual(bits(ours[k]), bits(expected[k]), `${f.name}: ${k}`);
        const later = await c.runAsync();
        for (const k of RESULT_KEYS.filter((key) => expected[key])) assert.deepEqual(bits(later[k]), bits(expected[k]), `${f.name}: async ${k}`);
      });
    }
  });

  const threads = getNumThreads();
  afterEach(() => setNumThreads(threads));

  const shapes: [string, () => Module, number[]][] = [
    ['LSTM, H = 37 (a partial unit group), odd input size', () => new LSTM({ inputSize: 11, hiddenSize: 37 }), [1, 2, 5]],
    ['LSTM 2 layers bidirectional with projections (W_hr packed too)', () => new LSTM({ inputSize: 9, hiddenSize: 40, projSize: 13, numLayers: 2, bidirectional: true }), [1, 3, 6]],
    ['LSTM without bias, batchFirst', () => new LSTM({ inputSize: 16, hiddenSize: 64, bias: false, batchFirst: true }), [1, 4]],
    ['GRU 2 layers', () => new GRU({ inputSize: 10, hiddenSize: 48, numLayers: 2 }), [1, 2, 7]],
    ['GRU bidirectional without bias, H = 21', () => new GRU({ inputSize: 5, hiddenSize: 21, bidirectional: true, bias: false }), [1, 4]],
    ['GRU with large weights (fused panels do not fit: the input projection first at every batch)', () => new GRU({ inputSize: 1400, hiddenSize: 1100 }), [1, 5]],
    ['RNN (nothing to pack: a snapshot of the weights in bfloat16)', () => new RNN({ inputSize: 8, hiddenSize: 24, nonlinearity: 'relu' }), [1, 3]],
  ];
  for (const [name, make, batches] of shapes) {
    it(`${name}: batch ${batches.join(', ')}, 1 and 2 threads, float32 and bfloat16 inputs, with states, 1 step and 9`, () => {
      manualSeed(7);
      const { prepared: p, reference: m } = pair(make as () => LSTM);
      const layerDirections = m.numLayers * (m.bidirectional ? 2 : 1);
      const calls = nativeCalls(() => noGrad(() => p.forward(randn([2, 1, m.inputSize]))));
      assert.equal(calls.length, 1);
      assert.equal(calls[0].spec.dtype, 'bfloat16');
      if (m instanceof RNN) assert.equal(calls[0].prepacked, undefined);
      else assert.equal(calls[0].prepacked?.length, layerDirections);
      for (const t of [1, 2]) {
        setNumThreads(t);
        for (const B of batches) {
          for (const T of [1, 9]) {
            const x = randn(m.batchFirst ? [B, T, m.inputSize] : [T, B, m.inputSize]);
            const P = m instanceof LSTM && m.projSize > 0 ? m.projSize : m.hiddenSize;
            const h0 = randn([layerDirections, B, P]), c0 = randn([layerDirections, B, m.hiddenSize]);
            const label = `${name}, ${t} thread(s), ${T} x ${B}`;
            for (const [kind, place] of [['float32', (v: Tensor) => v], ['bfloat16', (v: Tensor) => v.bfloat16() as unknown as Tensor]] as const) {
              const state = (m instanceof LSTM ? [place(h0), place(c0)] : place(h0)) as [Tensor, Tensor];
              sameBits(noGrad(() => m.forward(place(x))), p.forward(place(x)), `${label}, ${kind}`);
              sameBits(noGrad(() => m.forward(place(x), state)), p.forward(place(x), state), `${label}, ${kind}, with states`);
            }
          }
        }
      }
    });
  }

  it('packed sequences and forwardAsync; cells at batch 1 and 5', async () => {
    manualSeed(3);
    for (const make of [() => new LSTM({ inputSize: 6, hiddenSize: 33, bidirectional: true }), () => new GRU({ inputSize: 6, hiddenSize: 50, numLayers: 2 })]) {
      const { prepared: p, reference: m } = pair(make as () => LSTM);
      const packed = () => packPaddedSequence(randn([8, 6, 6]), tensor([8, 3, 7, 1, 5, 8]) as never, { enforceSorted: false });
      manualSeed(4);
      const x1 = packed();
      manualSeed(4);
      const x2 = packed();
      const a = noGrad(() => m.forward(x1 as never));
      const b = await p.forwardAsync(x2 as never);
      sameBits([a[0].data, a[1]], [b[0].data, b[1]], `${m.constructor.name} packed`);
    }
    for (const make of [() => new LSTMCell({ inputSize: 12, hiddenSize: 45 }), () => new GRUCell({ inputSize: 12, hiddenSize: 30 })]) {
      const { prepared, reference } = pair(make as () => LSTMCell);
      for (const B of [1, 5]) {
        const x = randn([B, 12]);
        const h = randn([B, reference.hiddenSize]);
        const state = (reference instanceof LSTMCell ? [h, randn([B, reference.hiddenSize])] : h) as [Tensor, Tensor];
        sameBits(noGrad(() => reference.forward(x, state)), prepared.forward(x, state), `${reference.constructor.name} batch ${B}`);
        sameBits(noGrad(() => reference.forward(x, state)), await prepared.forwardAsync(x, state), `${reference.constructor.name} batch ${B} async`);
      }
    }
  });

  it('dtype rules: a bfloat16 module keeps its dtype by default; float32 widens it exactly; other submodules are copied as they are', () => {
    manualSeed(8);
    const half = new GRU({ inputSize: 7, hiddenSize: 19 }).bfloat16();
    half.eval();
    const p = optimizeForInference(half);
    assert.equal(p.dtype, 'bfloat16');
    assert.deepEqual(p.parameters(), []);
    const x = randn([5, 3, 7]);
    sameBits(noGrad(() => half.forward(x)), p.forward(x), 'bfloat16 module, default dtype');
    const wide = optimizeForInference(half, { dtype: 'float32' });
    assert.equal(wide.dtype, 'float32');
    sameBits(noGrad(() => half.float().forward(x)), wide.forward(x), 'bfloat16 module as float32');
    const model = new Sequential(new LSTM({ inputSize: 4, hiddenSize: 6 }) as never, new Linear({ inFeatures: 6, outFeatures: 2 }) as never);
    const q = optimizeForInference(model, { dtype: 'bfloat16' });
    const [lstm, linear] = (q as unknown as { children(): Module[] }).children();
    assert.equal(lstm.dtype, 'bfloat16');
    assert.equal(linear.dtype, 'float32');
    assert.equal((model as Module).dtype, 'float32', 'the original is left as it was');
    throwsExactly(() => optimizeForInference(model, { dtype: 'float16' as never }), RangeError,
      'Expected dtype \'float32\' or \'bfloat16\' for optimizeForInference but received "float16" (for int8 weights use quantizeDynamic)');
    const f16 = new LSTM({ inputSize: 3, hiddenSize: 4 }).half();
    throwsExactly(() => optimizeForInference(f16), TypeError,
      'optimizeForInference: parameter weight_ih_l0 is float16; it takes float32 and bfloat16 modules (module.float(), module.bfloat16())');
    const r = randn([2, 1, 4]);
    r.requiresGrad = true;
    assert.throws(() => (lstm as LSTM).forward(r), /LSTM was made by optimizeForInference and is inference-only: it has no backward/);
  });

  describe('the native backstop: a form of the other dtype, or made for other sizes, is refused', () => {
    function calls(): [NativeForwardCall, NativeForwardCall] {
      manualSeed(11);
      const m = new LSTM({ inputSize: 5, hiddenSize: 20, numLayers: 2, projSize: 7 });
      const f32 = nativeCalls(() => optimizeForInference(m).forward(randn([3, 2, 5])))[0];
      const b16 = nativeCalls(() => optimizeForInference(m, { dtype: 'bfloat16' }).forward(randn([3, 2, 5])))[0];
      return [f32, b16];
    }
    const run = (c: NativeForwardCall) => native.rnnForward(c);

    it('a direct call with the module\'s forms computes what it computed; other forms are refused', () => {
      const [f32, b16] = calls();
      const expected = Float32Array.from(b16.output as Float32Array);
      (b16.output as Float32Array).fill(0);
      run(b16);
      assert.deepEqual(Array.from(b16.output as Float32Array), Array.from(expected));
      const [first, second] = b16.prepacked!;
      throwsExactly(() => run({ ...b16, prepacked: f32.prepacked }), RangeError, 'native check: prepacked[0]: packed weights are not a bfloat16 packed form');
      throwsExactly(() => run({ ...f32, prepacked: b16.prepacked }), RangeError, 'native check: prepacked[0]: packed weights are not a float32 packed form');
      throwsExactly(() => run({ ...b16, prepacked: [second, first] }), RangeError, /^native check: prepacked\[0\]: packed weights were made for other sizes \(kind 2, input 7, hidden 20, out 7\)/);
      throwsExactly(() => run({ ...b16, prepacked: [first, second.subarray(0, second.length - 256)] }), RangeError, 'native check: prepacked[1]: packed weights are truncated');
      // the same sizes without projections have no W_hr piece: another layout
      const plain = nativeCalls(() => optimizeForInference(new LSTM({ inputSize: 5, hiddenSize: 7 }), { dtype: 'bfloat16' }).forward(randn([3, 2, 5])))[0];
      const other = native.bf16Prepack(2, 5, 7, 20, new Uint16Array(400), new Uint16Array(560), null, null, new Uint16Array(140));
      throwsExactly(() => run({ ...plain, prepacked: [other] }), RangeError, /^native check: prepacked\[0\]: packed weights were made for other sizes/);
      throwsExactly(() => run({ ...b16, spec: { ...b16.spec, numLayers: 1 }, prepacked: [first] }), RangeError, /^native check:/);
    });

    it('bf16Prepack checks its arguments', () => {
      const w = (n: number) => new Uint16Array(n);
      throwsExactly(() => native.bf16Prepack(1, 2, 3, 3, w(18), w(27), null, null, null), RangeError, 'bf16Prepack: kind must be LSTM or GRU');
      throwsExactly(() => native.bf16Prepack(2, 2, 3, 3, w(23), w(36), null, null, null), RangeError, 'bf16Prepack: wIh has 23 elements, expected 24');
      throwsExactly(() => native.bf16Prepack(3, 2, 3, 3, w(18), w(27), w(9), null, null), TypeError, 'bf16Prepack: bIh and bHh must both be given or both be null');
      throwsExactly(() => native.bf16Prepack(3, 2, 3, 3, w(18), new Float32Array(27) as never, null, null, null), TypeError, 'bf16Prepack: wHh must be a Uint16Array');
      throwsExactly(() => native.bf16Prepack(3, 2, 2, 3, w(18), w(18), null, null, w(6)), RangeError, 'bf16Prepack: wHr is for an LSTM with P < H');
      throwsExactly(() => native.bf16Prepack(2, 2, 2, 3, w(24), w(24), null, null, null), RangeError, 'bf16Prepack: P must equal H without wHr');
    });
  });
});
