// int8 dynamic quantization on the CPU (quantizeDynamic): every PyTorch reference case and the three training runs'
// final models quantized and compared with the float32 module (mean absolute error <= 1e-2, no NaN/Inf; the max
// and mean per group are printed), sync and async alike; the copy's structure (same classes, submodules walked,
// float parts copied, the original untouched); determinism; safetensors round trips; thread team shapes; the
// refusals. test/simd-levels.test.ts runs this file again at each lower instruction-set level and compares the
// digest of every quantized result, which must be the same bits at every level.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Embedding, GRU, GRUCell, LSTM, LSTMCell, Linear, Module, PackedSequence, RNN, RNNCell, Sequential, Tensor, dynamicBatcher,
  loadQuantized, loadSafetensors, manualSeed, noGrad, packPaddedSequence, quantizeDynamic, randn, readSafetensorsMetadata,
  saveQuantized, serializeQuantized, serializeSafetensors, tensor, zeros,
} from '../lib/index';
import { native } from '../lib/binding';
import { fixtureNames } from './helpers/fixtures';
import { RESULT_KEYS } from './helpers/forward';
import {
  ErrorStats, addAbsErrors, emptyStats, fixtureRun, groupOf, int8Digest, meanOf, teamCases, teamRun, trainingNames, trainingRun,
} from './helpers/int8-runs';

const MEAN_BAR = 1e-2;

const bits = (t: Tensor): number[] => Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.numel));
const fmt = (x: number) => x.toExponential(1);

function statsOf(pairs: [Tensor, Tensor][]): ErrorStats {
  const s = emptyStats();
  for (const [ours, ref] of pairs) addAbsErrors(s, ours, ref);
  return s;
}

describe('int8 dynamic quantization on the CPU (quantizeDynamic)', () => {
  const kernels = native.cpuKernels();

  describe(`every PyTorch reference case: mean absolute error <= ${MEAN_BAR} against the float32 module`, () => {
    const groups: Record<string, ErrorStats & { cases: number; worstMean: number }> = {};
    after(() => {
      const rows = Object.entries(groups).map(([g, s]) => `${g} (${s.cases}): max ${fmt(s.max)} mean ${fmt(meanOf(s))} worst case mean ${fmt(s.worstMean)}`);
      console.log(`      int8 error against float32 (kernels ${kernels.int8}), by group:\n        ${rows.join('\n        ')}`);
    });
    for (const file of fixtureNames()) {
      it(file.replace(/\.safetensors$/, ''), async () => {
        const run = fixtureRun(file);
        const keys = RESULT_KEYS.filter((k) => run.float[k]);
        assert.deepEqual(Object.keys(run.int8).sort(), keys.slice().sort());
        const s = statsOf(keys.map((k) => [run.int8[k], run.float[k]]));
        assert.ok(Number.isFinite(s.max), `${run.f.name}: a NaN or infinite result`);
        assert.ok(meanOf(s) <= MEAN_BAR, `${run.f.name}: mean absolute error ${meanOf(s)}`);
        assert.ok(meanOf(s) > 0, `${run.f.name}: int8 results equal float32 exactly (not quantized?)`);
        // forwardAsync runs the same kernels on the libuv pool: the same bits
        const later = await run.runAsync();
        for (const k of keys) assert.deepEqual(bits(later[k]), bits(run.int8[k]), `${run.f.name}: async ${k}`);
        const g = (groups[groupOf(run.f)] ??= { ...emptyStats(), cases: 0, worstMean: 0 });
        g.cases++;
        g.max = Math.max(g.max, s.max);
        g.sum += s.sum;
        g.n += s.n;
        g.worstMean = Math.max(g.worstMean, meanOf(s));
      });
    }
  });

  describe(`the training runs' final models (Embedding stays float32): mean absolute error <= ${MEAN_BAR}`, () => {
    for (const name of trainingNames()) {
      it(name, () => {
        const { float, int8 } = trainingRun(name);
        const s = statsOf([[int8, float]]);
        console.log(`        ${name}: outputs [${float.shape}], |float| up to ${fmt(Math.max(...Array.from(float.data, Math.abs)))}; int8 error max ${fmt(s.max)} mean ${fmt(meanOf(s))}`);
        assert.ok(Number.isFinite(s.max));
        assert.ok(meanOf(s) <= MEAN_BAR, `mean absolute error ${meanOf(s)}`);
      });
    }
  });

  describe('thread team shapes: 2 threads give the 1-thread bits; close to float32', () => {
    for (const [name, make, shape, lengths] of teamCases()) {
      it(name, () => {
        const one = teamRun(make, shape, 1, lengths);
        const two = teamRun(make, shape, 2, lengths);
        two.int8.forEach((t, i) => assert.deepEqual(bits(t), bits(one.int8[i]), `result ${i}`));
        const s = statsOf(one.int8.map((t, i) => [t, one.float[i]]));
        assert.ok(Number.isFinite(s.max) && meanOf(s) <= MEAN_BAR && s.max <= 0.1, `max ${s.max} mean ${meanOf(s)}`);
      });
    }
  });

  it('uses VPDPBUSD exactly when the CPU has AVX512_VNNI and NODE_RNN_SIMD leaves the level alone; prints the digest', function () {
    this.timeout(120000);
    if (fs.existsSync('/proc/cpuinfo')) {
      const flags = new Set(fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].trim().split(/\s+/));
      const env = process.env.NODE_RNN_SIMD;
      const level = kernels.level;
      const bw = level === 'avx512' && flags.has('avx512bw');
      const expected = bw && env !== 'avx512' && flags.has('avx512_vnni') ? 'vnni' : bw ? 'avx512' : level === 'base' ? 'base' : 'avx2';
      assert.equal(kernels.int8, expected);
    }
    // test/simd-levels.test.ts compares this line across levels
    console.log(`      int8 kernels: family=${kernels.int8} digest=${int8Digest()}`);
  });

  describe('the copy', () => {
    class Tagger extends Module {
      embed = new Embedding({ numEmbeddings: 11, embeddingDim: 6 });
      rnn = new GRU({ inputSize: 6, hiddenSize: 10, batchFirst: true });
      head = new Sequential(new Linear({ inFeatures: 10, outFeatures: 8 }), new Linear({ inFeatures: 8, outFeatures: 4 }));
      cell = new LSTMCell({ inputSize: 3, hiddenSize: 5 });
      label = 'tagger';
      forward(tokens: Tensor<'int64'>): Tensor {
        const [out] = this.rnn.forward(this.embed.forward(tokens));
        return this.head.forward(out);
      }
    }

    it('is a new module of each class: quantizable ones get int8 weights, others float32 copies; the original is untouched', () => {
      manualSeed(3);
      const model = new Tagger();
      const before = model.namedParameters().map(([k, p]) => [k, Array.from(p.data)] as const);
      const q = quantizeDynamic(model);
      assert.ok(q instanceof Tagger && q !== model);
      assert.ok(q.rnn instanceof GRU && q.rnn !== model.rnn && q.cell instanceof LSTMCell && q.head instanceof Sequential);
      assert.ok(q.head[0] instanceof Linear && q.head.length === 2);
      assert.equal(q.label, 'tagger');
      assert.equal(q.training, true);
      // only the Embedding keeps parameters: copies that do not require grad
      assert.deepEqual(q.namedParameters().map(([k]) => k), ['embed.weight']);
      const [[, w]] = q.namedParameters();
      assert.ok(w !== model.embed.weight && w === q.embed.weight && !w.requiresGrad);
      assert.deepEqual(Array.from(w.data), Array.from(model.embed.weight.data));
      assert.deepEqual(model.namedParameters().map(([k, p]) => [k, Array.from(p.data)]), before);
      assert.ok(model.parameters().every((p) => p.requiresGrad));
      // the quantized Linear shows its dequantized weight and its bias
      const lin = q.head[0] as Linear;
      const orig = model.head[0] as Linear;
      const err = statsOf([[lin.weight, orig.weight]]);
      assert.ok(err.max <= Math.max(...Array.from(orig.weight.data, Math.abs)) / 254 + 1e-7 && err.max > 0);
      assert.deepEqual(Array.from(lin.bias!.data), Array.from(orig.bias!.data));
      // the class's own forward runs on the copy
      const tokens = tensor([[1n, 4n, 7n], [2n, 0n, 10n]], undefined, { dtype: 'int64' });
      const ours = q.forward(tokens);
      const ref = noGrad(() => model.forward(tokens));
      assert.ok(statsOf([[ours, ref]]).max < 0.05);
      // `modules` picks the classes: here the GRU only, the Linears stay float
      const onlyGru = quantizeDynamic(model, { modules: [GRU] });
      assert.deepEqual(onlyGru.namedParameters().map(([k]) => k),
        ['embed.weight', 'head.0.weight', 'head.0.bias', 'head.1.weight', 'head.1.bias', 'cell.weight_ih', 'cell.weight_hh', 'cell.bias_ih', 'cell.bias_hh']);
    });

    it('is deterministic: the same float module gives the same bytes; quantizing a quantized module copies it', () => {
      manualSeed(5);
      const model = new Tagger();
      const a = serializeQuantized(quantizeDynamic(model));
      const b = serializeQuantized(quantizeDynamic(model));
      assert.ok(a.equals(b));
      assert.ok(serializeQuantized(quantizeDynamic(quantizeDynamic(model))).equals(a));
    });

    it('int8 values are round(w / scale) with scale = max |row| / 127, float32 biases', () => {
      const lstm = new LSTM({ inputSize: 3, hiddenSize: 2 });
      const w = lstm.namedParameters()[0][1];
      w.data.set([0.5, -0.25, 0.125, 1, 0, -0.5, 0, 0, 0, 0.3, 0.3, -0.3, 2, 1, -1, 0.01, 0, 0, -4, 2, 1, 0, 0, 1e-3]);
      const t = loadSafetensors(serializeQuantized(quantizeDynamic(lstm)));
      const scales = Array.from((t['weight_ih_l0.scale'] as Tensor).data);
      const values = Array.from(t['weight_ih_l0'].data as BigInt64Array, Number);
      const rows = [[0.5, -0.25, 0.125], [1, 0, -0.5], [0, 0, 0], [0.3, 0.3, -0.3], [2, 1, -1], [0.01, 0, 0], [-4, 2, 1], [0, 0, 1e-3]];
      rows.forEach((row, r) => {
        const max = Math.max(...row.map((v) => Math.abs(Math.fround(v))));
        assert.equal(scales[r], Math.fround(max / 127), `scale ${r}`);
        // independent of the rounding details: each value is the nearest integer to w * 127 / max
        row.forEach((v, k) => assert.ok(max === 0 ? values[r * 3 + k] === 0 : Math.abs(values[r * 3 + k] - (Math.fround(v) * 127) / max) <= 0.5 + 1e-6, `value ${r},${k}`));
      });
      assert.deepEqual(values.slice(0, 3), [127, -64, 32]); // 63.5 rounds to the even 64; 31.75 to 32
      assert.deepEqual(Array.from((t['bias_ih_l0'] as Tensor).data), Array.from(lstm.namedParameters()[2][1].data));
    });
  });

  describe('safetensors', () => {
    it('save and load: int8 values as I8 and scales as F32 under a metadata tag; the loaded module gives the same bits', () => {
      manualSeed(8);
      const model = new Sequential(new LSTM({ inputSize: 4, hiddenSize: 12, projSize: 5, numLayers: 2, bidirectional: true }));
      const q = quantizeDynamic(model);
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'int8-')), 'q.safetensors');
      saveQuantized(file, q, { note: 'mine' });
      const meta = readSafetensorsMetadata(file);
      assert.equal(meta['node-rnn.quantization'], 'dynamic-int8-per-row');
      assert.equal(meta['node-rnn.quantized-modules'], '{"0":"LSTM"}');
      assert.equal(meta.note, 'mine');
      const header = JSON.parse(fs.readFileSync(file).subarray(8, 8 + Number(fs.readFileSync(file).readBigUInt64LE(0))).toString());
      assert.deepEqual(header['0.weight_ih_l1_reverse'], { dtype: 'I8', shape: [48, 10], data_offsets: header['0.weight_ih_l1_reverse'].data_offsets });
      assert.equal(header['0.weight_hr_l0.scale'].dtype, 'F32');
      assert.equal(header['0.bias_hh_l1'].dtype, 'F32');
      // a model of the same architecture with other weights, quantized, then loaded
      const other = quantizeDynamic(new Sequential(new LSTM({ inputSize: 4, hiddenSize: 12, projSize: 5, numLayers: 2, bidirectional: true })));
      const x = randn([6, 3, 4]);
      const run = (m: Sequential) => (m[0] as LSTM).forward(x)[0];
      assert.notDeepEqual(bits(run(other)), bits(run(q)));
      loadQuantized(other, file);
      assert.deepEqual(bits(run(other)), bits(run(q)));
      assert.ok(serializeQuantized(other, { note: 'mine' }).equals(fs.readFileSync(file)));
    });

    it('refuses files that do not fit, leaving the module unchanged', () => {
      manualSeed(9);
      const q = quantizeDynamic(new GRU({ inputSize: 3, hiddenSize: 4 }));
      const x = randn([2, 1, 3]);
      const before = bits(q.forward(x)[0]);
      const bytes = serializeQuantized(quantizeDynamic(new GRU({ inputSize: 3, hiddenSize: 5 })));
      assert.throws(() => loadQuantized(q, bytes), /^Error: loadQuantized: safetensors buffer does not fit GRU:\n\tweight_ih_l0 has shape \[15, 3\], expected \[12, 3\]/);
      assert.throws(() => loadQuantized(q, serializeQuantized(quantizeDynamic(new LSTM({ inputSize: 3, hiddenSize: 4 })))),
        /holds the quantized modules \{"":"LSTM"\}, but GRU has \{"":"GRU"\}/);
      assert.deepEqual(bits(q.forward(x)[0]), before);
      loadQuantized(q, serializeQuantized(quantizeDynamic(new GRU({ inputSize: 3, hiddenSize: 4 }))));
      assert.notDeepEqual(bits(q.forward(x)[0]), before);
    });

    it('refuses float checkpoints, modules without int8 parts and out-of-range values', () => {
      const q = quantizeDynamic(new RNN({ inputSize: 2, hiddenSize: 3 }));
      const floatFile = serializeQuantized(q).subarray(0, 0);
      assert.throws(() => loadQuantized(q, floatFile), /Invalid safetensors buffer/);
      assert.throws(() => loadQuantized(q, serializeSafetensors({ weight_ih_l0: zeros([3, 2]) })), /holds no int8 module .* loads with loadStateDict into the float module/);
      assert.throws(() => loadQuantized(new RNN({ inputSize: 2, hiddenSize: 3 }), serializeQuantized(q)), /^Error: loadQuantized: RNN holds no int8 modules; quantize it with quantizeDynamic\(module\) first$/);
      assert.throws(() => serializeQuantized(new RNN({ inputSize: 2, hiddenSize: 3 })), /serializeQuantized: RNN holds no int8 modules/);
      assert.throws(() => serializeQuantized(q, { 'node-rnn.quantization': 'x' }), RangeError);
    });
  });

  describe('refusals', () => {
    it('a forward that would record for backward, on the modules, the cells and Linear (sync and async)', async () => {
      const message = /^Error: (LSTM|GRUCell|Linear) was quantized to int8 by quantizeDynamic and is inference-only: it has no backward/;
      const lstm = quantizeDynamic(new LSTM({ inputSize: 2, hiddenSize: 3 }));
      const x = randn([4, 1, 2]);
      x.requiresGrad = true;
      assert.throws(() => lstm.forward(x), message);
      await assert.rejects(async () => lstm.forwardAsync(x), message);
      const [out] = noGrad(() => lstm.forward(x));
      assert.equal(out.requiresGrad, false);
      // nothing recorded, so nothing to go back through
      assert.throws(() => out.sum().backward(), /does not require grad and does not have a grad_fn/);
      const h = randn([1, 3]);
      h.requiresGrad = true;
      assert.throws(() => quantizeDynamic(new GRUCell({ inputSize: 2, hiddenSize: 3 })).forward(randn([1, 2]), h), message);
      assert.throws(() => quantizeDynamic(new Linear({ inFeatures: 2, outFeatures: 3 })).forward(x), message);
    });

    it('moves, conversions and float state dicts', () => {
      const model = new Sequential(new Embedding({ numEmbeddings: 3, embeddingDim: 2 }), new GRU({ inputSize: 2, hiddenSize: 3 }));
      const q = quantizeDynamic(model);
      const refusal = (what: string) => new RegExp(`^Error: Sequential is or holds int8 modules made by quantizeDynamic, which cannot ${what}: they are inference-only`);
      assert.throws(() => q.to('cuda'), refusal('move to cuda:0'));
      assert.throws(() => q.bfloat16(), refusal('convert to bfloat16'));
      assert.throws(() => q.half(), refusal('convert to float16'));
      assert.equal(q.float().cpu(), q);
      assert.throws(() => q.loadStateDict(model.stateDict()), refusal('load float weights with loadStateDict'));
      q.loadStateDict({ '0.weight': zeros([3, 2]) }); // the float part loads as usual
      assert.deepEqual(Array.from(q.parameters()[0].data), [0, 0, 0, 0, 0, 0]);
    });

    it('bad arguments to quantizeDynamic', () => {
      const lstm = new LSTM({ inputSize: 2, hiddenSize: 3 });
      assert.throws(() => quantizeDynamic({} as Module), /^TypeError: Expected a Module for module but received an object$/);
      assert.throws(() => quantizeDynamic(lstm, { dtype: 'float16' } as never), /^RangeError: Expected dtype 'int8' for quantizeDynamic but received "float16"/);
      assert.throws(() => quantizeDynamic(lstm, { dtyp: 'int8' } as never), TypeError);
      assert.throws(() => quantizeDynamic(lstm, { modules: [Embedding] } as never), /^TypeError: Expected one of RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, Linear for modules\[0\] but received Embedding$/);
      assert.throws(() => quantizeDynamic(lstm, { modules: LSTM } as never), /^TypeError: Expected an array of module classes/);
      lstm.parameters()[1].data[4] = NaN;
      assert.throws(() => quantizeDynamic(lstm), /^RangeError: quantizeDynamic: weight_hh_l0 has a non-finite value \(NaN at index 4\)/);
      const d = new Linear({ inFeatures: 2, outFeatures: 2 });
      d.parameters()[0].dispose();
      assert.throws(() => quantizeDynamic(new Sequential(d)), /^Error: quantizeDynamic: parameter 0.weight has been disposed$/);
    });

    it('bad calls of quantized modules: dtypes, devices, shapes', () => {
      const gru = quantizeDynamic(new GRU({ inputSize: 2, hiddenSize: 3 }));
      assert.throws(() => gru.forward(randn([4, 1, 2]).bfloat16() as never), /^TypeError: Input and parameter tensors are not the same dtype, found input tensor with BFloat16 and parameter tensor with Float$/);
      assert.throws(() => gru.forward(randn([4, 1, 5])), /^RangeError: input.size\(-1\) must be equal to input_size. Expected 2, got 5$/);
      assert.throws(() => gru.forward(randn([4, 1, 2]), randn([1, 2, 3])), /^RangeError: Expected hidden size \[1, 1, 3\], got \[1, 2, 3\]$/);
      const lin = quantizeDynamic(new Linear({ inFeatures: 4, outFeatures: 2 }));
      assert.throws(() => lin.forward(randn([3, 5])), /^RangeError: mat1 and mat2 shapes cannot be multiplied \(3x5 and 4x2\)$/);
      assert.throws(() => lin.forward('x' as never), /^TypeError: Expected a Tensor for input but received "x"$/);
      assert.deepEqual(lin.forward(randn([0, 4])).shape, [0, 2]);
      // the native backstop: packed weights of another shape
      const call = (packed: Uint8Array) => ({
        spec: { kind: 0, inputSize: 2, hiddenSize: 3, projSize: 0, numLayers: 1, bidirectional: false, bias: false, batchFirst: false, seqLen: 1, batch: 1, dropout: 0, training: false, seed: 0, dtype: 'int8' as const },
        weights: [packed, native.int8Pack(1, 3, 3, new Int8Array(9), new Float32Array(3))], input: new Float32Array(2), h0: null, c0: null,
        output: new Float32Array(3), hN: new Float32Array(3), cN: null, batchSizes: null, saved: null,
      });
      assert.throws(() => native.rnnForward(call(native.int8Pack(1, 3, 3, new Int8Array(9), new Float32Array(3)))), /^RangeError: native check: int8 matrix: packed as 1 x 3 x 3, expected 1 x 3 x 2$/);
      assert.throws(() => native.rnnForward(call(new Uint8Array(10))), /^RangeError: native check: int8 matrix: not a packed matrix/);
      // a float32 matrix where the packed one belongs, and a packed matrix in a float32 call
      assert.throws(() => native.rnnForward(call(new Float32Array(6) as never)), { name: 'TypeError', message: 'native forward: weights[0] holds float32, expected int8 in this call' });
      assert.throws(() => native.rnnForward({ ...call(new Uint8Array(10)), spec: { ...call(new Uint8Array(10)).spec, dtype: 'float32' } }), {
        name: 'TypeError', message: 'native forward: weights[0] must be a Float32Array or a CUDA buffer',
      });
      native.rnnForward(call(native.int8Pack(1, 3, 2, new Int8Array(6), new Float32Array(3))));
    });
  });

  describe('other entry points', () => {
    it('packed sequences, empty batches, cells of hiddenSize 0, dynamicBatcher', async () => {
      manualSeed(12);
      const lstm = new LSTM({ inputSize: 3, hiddenSize: 8, bidirectional: true });
      const q = quantizeDynamic(lstm);
      const padded = randn([5, 3, 3]);
      const packed = packPaddedSequence(padded, tensor([5, 2, 4], undefined, { dtype: 'int64' }) as never, { enforceSorted: false });
      const [out, [h]] = q.forward(packed);
      const [ref, [hRef]] = noGrad(() => lstm.forward(packed));
      assert.ok(out instanceof PackedSequence);
      assert.ok(statsOf([[out.data, ref.data], [h, hRef]]).max < 0.02);
      const [empty] = q.forward(zeros([4, 0, 3]));
      assert.deepEqual(empty.shape, [4, 0, 16]);
      assert.deepEqual(quantizeDynamic(new RNNCell({ inputSize: 2, hiddenSize: 0 })).forward(randn([3, 2])).shape, [3, 0]);
      const gru = new GRU({ inputSize: 4, hiddenSize: 6 }).eval();
      const qg = quantizeDynamic(gru);
      const batcher = dynamicBatcher(qg, { maxDelayMs: 20 });
      const inputs = [randn([5, 4]), randn([2, 4])];
      const results = await Promise.all(inputs.map((x) => batcher.run(x)));
      await batcher.close();
      results.forEach((r, i) => assert.ok(statsOf([[r.output, qg.forward(inputs[i])[0]]]).max < 1e-5, `request ${i}`));
    });
  });
});
