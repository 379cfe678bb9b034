// The allocation cap (lib/limits.ts): requests over it are refused with a RangeError before anything is
// allocated or any native code runs; requests under it work as before.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  F, GRU, GRUCell, LSTM, LSTMCell, PackedSequence, RNN, add, full, getMemoryLimit, manualSeed, matmul, noGrad, ones, packPaddedSequence,
  padPackedSequence, rand, randn, setMemoryLimit, Tensor, zeros,
} from '../lib/index';
import { NativeForwardCall, native } from '../lib/binding';
import { formatBytes, parseBytes } from '../lib/limits';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const LIMIT_ERROR = /more than the memory limit of .* \(setMemoryLimit\(\) \/ NODE_RNN_MAX_BYTES\)$/;

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RangeError, `expected a RangeError, got ${String(e)}`);
    assert.match(e.message, LIMIT_ERROR);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('memory limit', () => {
  const initial = getMemoryLimit();
  afterEach(() => setMemoryLimit(initial));

  it('defaults to a positive byte count no larger than the machine', () => {
    assert.ok(Number.isSafeInteger(initial) && initial > 0);
    assert.ok(initial <= os.totalmem());
  });

  it('refuses tensor factories whose shape needs more than the limit, naming the size', () => {
    refused(() => zeros([1e6, 1e6]), /^node-rnn: zeros\(\[1000000, 1000000\]\) needs 3\.6 TiB, /);
    refused(() => ones([2 ** 40]), /ones\(\[1099511627776\]\) needs 4 TiB/);
    refused(() => full([1e9, 1e9, 1e9], 1), /full\(/);
    refused(() => randn([1e7, 1e7]), /randn\(/);
    refused(() => rand([1e7, 1e7]), /rand\(/);
    // int64 elements are 8 bytes
    setMemoryLimit(MiB);
    refused(() => zeros([131073], { dtype: 'int64' }), /needs 1 MiB/);
    assert.equal(zeros([131072], { dtype: 'int64' }).numel, 131072);
  });

  it('allows exactly the limit and refuses one element more', () => {
    setMemoryLimit(MiB);
    const t = full([MiB / 4], 2);
    assert.equal(t.numel, MiB / 4);
    assert.equal(t.data[MiB / 4 - 1], 2);
    refused(() => full([MiB / 4 + 1], 2), /full\(\[262145\]\) needs 1 MiB/);
    // a zero-size tensor needs nothing, whatever its other extents
    assert.equal(zeros([0, 1e12]).numel, 0);
  });

  it('refuses a module whose parameters exceed the limit before allocating them', () => {
    refused(() => new LSTM({ inputSize: 1e6, hiddenSize: 1e6 }), /^node-rnn: LSTM parameters needs 29\.1 TiB/);
    refused(() => new GRUCell({ inputSize: 1e6, hiddenSize: 1e6 }), /GRUCell parameters/);
    // LSTM(8, 16, 2 layers, bidirectional, proj 4): per direction 64*(8+4)+2*64+4*16 = 960 floats in layer 0,
    // 64*(8+4)+2*64+64 = 960 in layer 1 (input 2*4), so 2*(960+960)*4 = 15360 bytes
    setMemoryLimit(15360);
    const lstm = new LSTM({ inputSize: 8, hiddenSize: 16, numLayers: 2, bidirectional: true, projSize: 4 });
    assert.equal(lstm.parameters().reduce((n, p) => n + p.numel, 0) * 4, 15360);
    setMemoryLimit(15359);
    refused(() => new LSTM({ inputSize: 8, hiddenSize: 16, numLayers: 2, bidirectional: true, projSize: 4 }), /needs 15 KiB/);
  });

  it('sizes the saved workspace by native code\'s layout, which the native forward then takes exactly', () => {
    manualSeed(1);
    // the layout of native/core/rnn_saved.h worked out by hand: each layer l > 0 saves its input [rows, D*P]; each
    // layer-direction its gates [rows, S*H] (S: 4 for LSTM and GRU, 1 for RNN), hPrev [rows, P], cPrev [rows, H]
    // (LSTM) and hFull [rows, H] (projections)
    const floats = (m: InstanceType<typeof LSTM | typeof GRU | typeof RNN>, rows: number) => {
      const L = m.numLayers, D = m.bidirectional ? 2 : 1, H = m.hiddenSize, P = m.projSize > 0 ? m.projSize : H;
      const S = m.mode === 'LSTM' || m.mode === 'GRU' ? 4 : 1;
      const perDirection = S * H + P + (m.mode === 'LSTM' ? H : 0) + (m.projSize > 0 ? H : 0);
      return rows * ((L - 1) * D * P + L * D * perDirection);
    };
    const cases: [InstanceType<typeof LSTM | typeof GRU | typeof RNN>, Tensor | PackedSequence, number][] = [
      [new LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 3, bidirectional: true, projSize: 2 }), randn([4, 2, 3]), 8],
      [new LSTM({ inputSize: 3, hiddenSize: 5 }), randn([7, 3]), 7],
      [new GRU({ inputSize: 2, hiddenSize: 6, numLayers: 2, batchFirst: true }), randn([3, 5, 2]), 15],
      [new RNN({ inputSize: 4, hiddenSize: 3, numLayers: 2, bidirectional: true, nonlinearity: 'relu' }), randn([6, 2, 4]), 12],
      [new GRU({ inputSize: 2, hiddenSize: 3, bidirectional: true }), packPaddedSequence(randn([5, 3, 2]), [5, 4, 2]), 11],
    ];
    const realForward = native.rnnForward;
    try {
      for (const [module, x, rows] of cases) {
        const seen: NativeForwardCall[] = [];
        native.rnnForward = (call) => (seen.push(call), realForward(call));
        (module as unknown as { forward(x: Tensor | PackedSequence): unknown }).forward(x);
        const what = `${module.constructor.name} ${module.mode}`;
        assert.equal(seen.length, 1, what);
        const call = seen[0];
        assert.equal(call.saved!.length, floats(module, rows), what);
        // the native forward refuses a workspace of any other size
        for (const n of [call.saved!.length - 1, call.saved!.length + 1]) {
          assert.throws(() => realForward({ ...call, saved: new Float32Array(n) }), {
            name: 'RangeError', message: `native check: saved has ${n} elements, expected ${call.saved!.length}`,
          }, what);
        }
      }
    } finally {
      native.rnnForward = realForward;
    }
    // asked before anything exists, for sizes no call could run: a double, past 2^53 too
    const shape = { kind: 2, rows: 2 ** 40, numLayers: 3, bidirectional: true, hiddenSize: 2 ** 20, projSize: 2 ** 10 };
    assert.equal(native.rnnSavedSize(shape), 2 ** 40 * (2 * 2 * 2 ** 10 + 3 * 2 * (4 * 2 ** 20 + 2 ** 10 + 2 ** 20 + 2 ** 20)));
    assert.throws(() => native.rnnSavedSize({ ...shape, kind: 4 }), { name: 'TypeError', message: 'rnnSavedSize: kind must be an integer in [0, 3]' });
    assert.throws(() => native.rnnSavedSize({ ...shape, rows: -1 }), { name: 'TypeError', message: 'rnnSavedSize: rows must be an integer in [0, 9007199254740991]' });
    assert.throws(() => native.rnnSavedSize({ ...shape, numLayers: 2 ** 31 }), { name: 'TypeError', message: 'rnnSavedSize: numLayers must be an integer in [0, 2147483647]' });
  });

  it('refuses a forward whose output and saved activations exceed the limit, before the native forward', () => {
    manualSeed(2);
    const lstm = new LSTM({ inputSize: 4, hiddenSize: 8, numLayers: 2 });
    const x = randn([10, 3, 4]);
    const reference = noGrad(() => lstm.forward(x))[0].toArray();
    // output 10*3*8 floats = 960 B, final state 2*2*3*8*4 = 384 B; saved: layer 1 input 240 floats, per layer
    // 30*(32+8+8) = 1440 floats, so 3120 floats = 12480 B
    setMemoryLimit(960 + 384 + 12480 - 1);
    const calls = { forward: 0, saved: 0 };
    const realForward = native.rnnForward;
    const realSaved = native.rnnSavedSize;
    native.rnnForward = (...args) => (calls.forward++, realForward(...args));
    native.rnnSavedSize = (...args) => (calls.saved++, realSaved(...args));
    try {
      refused(() => lstm.forward(x), /^node-rnn: LSTM\.forward needs 13\.5 KiB \(output 960 B, final state 384 B, saved activations 12\.2 KiB\), /);
      // the workspace's size is asked of native code (a pure size query), the forward never runs
      assert.deepEqual(calls, { forward: 0, saved: 1 });
      // without a graph nothing is saved (nor asked), so the same forward fits
      const [out] = noGrad(() => lstm.forward(x));
      assert.deepEqual(out.toArray(), reference);
      assert.deepEqual(calls, { forward: 1, saved: 1 });
      setMemoryLimit(960 + 384 + 12480);
      assert.deepEqual(lstm.forward(x)[0].toArray(), reference);
      assert.deepEqual(calls, { forward: 2, saved: 2 });
    } finally {
      native.rnnForward = realForward;
      native.rnnSavedSize = realSaved;
    }
  });

  it('refuses forwardAsync, packed input and cells over the limit with a rejected promise or a throw', async () => {
    manualSeed(3);
    const gru = new GRU({ inputSize: 2, hiddenSize: 4 });
    const x = randn([5, 2, 2]);
    const expected = noGrad(() => gru.forward(x))[0].toArray();
    const cell = new LSTMCell({ inputSize: 2, hiddenSize: 4 });
    setMemoryLimit(100);
    await assert.rejects(gru.forwardAsync(x), (e: unknown) => e instanceof RangeError && /GRU\.forward needs 192 B \(output 160 B, final state 32 B\)/.test(e.message));
    const packed = packPaddedSequence(x, [5, 3]);
    refused(() => noGrad(() => gru.forward(packed)), /GRU\.forward needs 160 B \(output 128 B, final state 32 B\)/);
    refused(() => noGrad(() => cell.forward(randn([7, 2]))), /LSTMCell\.forward needs 336 B/);
    setMemoryLimit(initial);
    assert.deepEqual((await gru.forwardAsync(x))[0].toArray(), expected);
  });

  it('refuses ops whose result outgrows their inputs: broadcasting, matmul, linear, embedding, padding', () => {
    setMemoryLimit(64 * MiB);
    const col = zeros([50000, 1]);
    const row = zeros([1, 50000]);
    refused(() => add(col, row), /^node-rnn: add of shape \[50000, 50000\] needs 27\.9 GiB \(result 9\.3 GiB, broadcast index maps 18\.6 GiB\), /);
    refused(() => matmul(col, row), /^node-rnn: matmul result of shape \[50000, 50000\] needs 9\.3 GiB, /);
    refused(() => F.linear(zeros([50000, 1]), zeros([50000, 1])), /^node-rnn: linear output of shape \[50000, 50000\] needs /);
    refused(() => F.embedding(zeros([20000], { dtype: 'int64' }), zeros([2, 1000])), /^node-rnn: embedding output of 20000 rows of 1000 needs /);
    const packed = packPaddedSequence(zeros([3, 2, 4]), [3, 2]);
    refused(() => padPackedSequence(packed, { totalLength: 3e7 }), /^node-rnn: padPackedSequence output of 30000000 x 2 x 4 needs /);
    // under the limit they work
    assert.deepEqual(add(zeros([300, 1]), zeros([1, 300])).shape, [300, 300]);
    assert.deepEqual(matmul(zeros([300, 1]), zeros([1, 300])).shape, [300, 300]);
  });

  it('validates setMemoryLimit and accepts Infinity', () => {
    assert.throws(() => setMemoryLimit('4GiB' as unknown as number), TypeError);
    assert.throws(() => setMemoryLimit(NaN), TypeError);
    assert.throws(() => setMemoryLimit(0), RangeError);
    assert.throws(() => setMemoryLimit(-5), RangeError);
    assert.throws(() => setMemoryLimit(1.5), RangeError);
    assert.equal(getMemoryLimit(), initial);
    setMemoryLimit(Infinity);
    assert.equal(getMemoryLimit(), Infinity);
    assert.equal(zeros([0]).numel, 0);
  });

  it('parses byte counts with binary units and formats sizes', () => {
    assert.equal(parseBytes('x', '4294967296'), 4 * GiB);
    assert.equal(parseBytes('x', '4GiB'), 4 * GiB);
    assert.equal(parseBytes('x', '512m'), 512 * MiB);
    assert.equal(parseBytes('x', ' 1.5 GB '), 1.5 * GiB);
    for (const bad of ['', 'abc', '-1', '0', '4 XB', '1e9']) assert.throws(() => parseBytes('NODE_RNN_MAX_BYTES', bad), RangeError, bad);
    assert.equal(formatBytes(100), '100 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(6.1 * GiB), '6.1 GiB');
  });

  it('reads NODE_RNN_MAX_BYTES at load and rejects a malformed one with a clear error', () => {
    const index = path.resolve(__dirname, '..', 'lib', 'index.js');
    const script = `const m = require(${JSON.stringify(index)}); console.log(m.getMemoryLimit()); try { m.zeros([1024]); } catch (e) { console.log(e.message); }`;
    const run = (value: string) => spawnSync(process.execPath, ['-e', script], { env: { ...process.env, NODE_RNN_MAX_BYTES: value }, encoding: 'utf8' });
    const ok = run('2k');
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(ok.stdout.trim().split('\n'), [
      '2048', 'node-rnn: zeros([1024]) needs 4 KiB, more than the memory limit of 2 KiB (setMemoryLimit() / NODE_RNN_MAX_BYTES)',
    ]);
    const bad = run('lots');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /RangeError: Expected a positive byte count such as 4294967296 or 4GiB for NODE_RNN_MAX_BYTES but received "lots"/);
  });
});
