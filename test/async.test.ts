// forwardAsync: identical results to forward, a free event loop while it runs, concurrent calls,
// inputs kept alive by the addon, and no weight loads while a call is in flight.
import { strict as assert } from 'node:assert';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell, Tensor, manualSeed, packPaddedSequence, randn } from '../lib/index';
import { noGrad } from '../lib/index';
// Only for the one check that the addon itself keeps its arguments alive (lib/ also holds them while it awaits).
import { native } from '../lib/binding';

/** A full garbage collection: global.gc when node runs with --expose-gc, else the V8 flag set at runtime. */
function findGc(): (() => void) | null {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

const tensorsOf = (result: unknown): Tensor[] =>
  result instanceof Tensor ? [result] : Array.isArray(result) ? result.flatMap(tensorsOf) : [];

function assertBitwiseEqual(actual: unknown, expected: unknown, what: string): void {
  const a = tensorsOf(actual), e = tensorsOf(expected);
  assert.equal(a.length, e.length, `${what}: number of result tensors`);
  assert.ok(e.length > 0);
  a.forEach((t, i) => {
    assert.deepEqual(t.shape, e[i].shape, `${what}: shape of result ${i}`);
    assert.deepEqual(t.data, e[i].data, `${what}: result ${i} differs`);
  });
}

interface Case {
  name: string;
  run(): unknown;
  runAsync(): Promise<unknown>;
}

function cases(): Case[] {
  manualSeed(91);
  const x = randn([7, 3, 4]);
  const xbf = randn([3, 7, 4]);
  const xu = randn([7, 4]);
  const lstm = new LSTM({ inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true });
  const lstmProj = new LSTM({ inputSize: 4, hiddenSize: 5, projSize: 3, batchFirst: true });
  const gru = new GRU({ inputSize: 4, hiddenSize: 5, numLayers: 2 });
  const rnn = new RNN({ inputSize: 4, hiddenSize: 5, nonlinearity: 'relu', bidirectional: true });
  const lstmCell = new LSTMCell({ inputSize: 4, hiddenSize: 5 });
  const gruCell = new GRUCell({ inputSize: 4, hiddenSize: 5 });
  const rnnCell = new RNNCell({ inputSize: 4, hiddenSize: 5 });
  const hc: [Tensor, Tensor] = [randn([4, 3, 5]), randn([4, 3, 5])];
  const h2 = randn([2, 3, 5]);
  const cx = randn([3, 4]);
  const ch = randn([3, 5]);
  const cc = randn([3, 5]);
  const packed = packPaddedSequence(x, [3, 7, 5], { enforceSorted: false });
  return [
    { name: 'LSTM 2 layers bidirectional with h0/c0', run: () => lstm.forward(x, hc), runAsync: () => lstm.forwardAsync(x, hc) },
    { name: 'LSTM unbatched', run: () => lstm.forward(xu), runAsync: () => lstm.forwardAsync(xu) },
    { name: 'LSTM projSize batchFirst', run: () => lstmProj.forward(xbf), runAsync: () => lstmProj.forwardAsync(xbf) },
    { name: 'GRU 2 layers with h0', run: () => gru.forward(x, h2), runAsync: () => gru.forwardAsync(x, h2) },
    { name: 'GRU packed', run: () => tensorsOfPacked(gru.forward(packed)), runAsync: async () => tensorsOfPacked(await gru.forwardAsync(packed)) },
    { name: 'RNN relu bidirectional', run: () => rnn.forward(x), runAsync: () => rnn.forwardAsync(x) },
    { name: 'LSTMCell', run: () => lstmCell.forward(cx, [ch, cc]), runAsync: () => lstmCell.forwardAsync(cx, [ch, cc]) },
    { name: 'GRUCell', run: () => gruCell.forward(cx, ch), runAsync: () => gruCell.forwardAsync(cx, ch) },
    { name: 'GRUCell unbatched', run: () => gruCell.forward(randnFixed(4)), runAsync: () => gruCell.forwardAsync(randnFixed(4)) },
    { name: 'RNNCell', run: () => rnnCell.forward(cx), runAsync: () => rnnCell.forwardAsync(cx) },
  ];
}

function tensorsOfPacked([out, h]: [{ data: Tensor }, Tensor]): Tensor[] {
  return [out.data, h];
}

const fixedVector = new Map<number, Tensor>();
function randnFixed(n: number): Tensor {
  if (!fixedVector.has(n)) fixedVector.set(n, randn([n]));
  return fixedVector.get(n)!;
}

describe('async: forwardAsync equals forward', () => {
  for (const c of cases()) {
    it(`${c.name}: bitwise identical`, async () => {
      const expected = c.run();
      const actual = await c.runAsync();
      assertBitwiseEqual(actual, expected, c.name);
    });
  }

  it('returns a Promise and does not compute synchronously', async () => {
    manualSeed(92);
    const m = new GRU({ inputSize: 4, hiddenSize: 5 });
    const x = randn([6, 2, 4]);
    const p = m.forwardAsync(x);
    assert.ok(p instanceof Promise);
    const [out, h] = await p;
    assert.deepEqual(out.shape, [6, 2, 5]);
    assert.deepEqual(h.shape, [1, 2, 5]);
  });
});

describe('async: the event loop stays free', function () {
  this.timeout(120000);

  it('setInterval keeps ticking while a long LSTM forwardAsync runs', async () => {
    manualSeed(93);
    const I = 128, H = 512, B = 64;
    const m = new LSTM({ inputSize: I, hiddenSize: H });
    // scale T so that the call takes about 900 ms on this machine (at least 300 ms is needed); the probe runs
    // under noGrad, as forwardAsync does (a recorded forward also saves state for backward and is slower)
    const probeT = 50;
    const probe = randn([probeT, B, I]);
    noGrad(() => m.forward(probe));
    const t0 = performance.now();
    noGrad(() => m.forward(probe));
    const probeMs = Math.max(performance.now() - t0, 0.1);
    const T = Math.min(20000, Math.max(probeT, Math.ceil((probeT * 900) / probeMs)));
    const x = randn([T, B, I]);

    let ticks = 0;
    let settled = false;
    let ticksBeforeSettle = -1;
    const timer = setInterval(() => ticks++, 5);
    const start = performance.now();
    try {
      const [out, [h, c]] = await m.forwardAsync(x).finally(() => {
        settled = true;
        ticksBeforeSettle = ticks;
      });
      const elapsed = performance.now() - start;
      assert.ok(settled);
      assert.ok(elapsed >= 300, `the async call took only ${elapsed.toFixed(0)} ms (T=${T}); it must run at least 300 ms for this check`);
      assert.ok(ticksBeforeSettle >= 5, `only ${ticksBeforeSettle} interval ticks in ${elapsed.toFixed(0)} ms while forwardAsync ran`);
      assert.deepEqual(out.shape, [T, B, H]);
      assert.deepEqual(h.shape, [1, B, H]);
      assert.deepEqual(c.shape, [1, B, H]);
      // the last step of the output is h_n
      assert.deepEqual(out.data.subarray((T - 1) * B * H), h.data);
      assert.ok(h.data.every(Number.isFinite) && h.data.some((v) => v !== 0));
    } finally {
      clearInterval(timer);
    }
  });
});

describe('async: concurrent calls on one module', () => {
  for (const kind of ['LSTM', 'GRU', 'RNN'] as const) {
    it(`${kind}: many concurrent forwardAsync calls equal sequential forward calls`, async () => {
      manualSeed(94);
      const opts = { inputSize: 16, hiddenSize: 48, numLayers: 2, bidirectional: true };
      const m = kind === 'LSTM' ? new LSTM(opts) : kind === 'GRU' ? new GRU(opts) : new RNN(opts);
      const inputs = Array.from({ length: 16 }, (_, i) => randn([30 + i, 1 + (i % 5), 16]));
      const sequential = inputs.map((x) => (m as GRU).forward(x));
      const concurrent = await Promise.all(inputs.map((x) => (m as GRU).forwardAsync(x)));
      concurrent.forEach((r, i) => assertBitwiseEqual(r, sequential[i], `${kind} call ${i}`));
      // the module is idle again: a state dict loads fine
      assert.doesNotThrow(() => m.loadStateDict(m.stateDict()));
    });
  }

  it('concurrent calls on different modules and a sync call in between', async () => {
    manualSeed(95);
    const a = new LSTM({ inputSize: 8, hiddenSize: 32 });
    const b = new GRUCell({ inputSize: 8, hiddenSize: 32 });
    const xa = randn([40, 4, 8]), xb = randn([4, 8]);
    const ea = a.forward(xa), eb = b.forward(xb);
    const pa = a.forwardAsync(xa), pb = b.forwardAsync(xb);
    const mid = a.forward(xa);
    const [ra, rb] = await Promise.all([pa, pb]);
    assertBitwiseEqual(ra, ea, 'LSTM');
    assertBitwiseEqual(rb, eb, 'GRUCell');
    assertBitwiseEqual(mid, ea, 'sync call during async calls');
  });
});

describe('async: inputs stay alive', function () {
  this.timeout(60000);
  const gc = findGc();

  /** Builds a module and inputs from a seed; only the promise leaves this function. */
  function startDetached(seed: number): Promise<[Tensor, [Tensor, Tensor]]> {
    manualSeed(seed);
    const m = new LSTM({ inputSize: 64, hiddenSize: 256, numLayers: 2 });
    const x = randn([120, 16, 64]);
    const h0 = randn([2, 16, 256]), c0 = randn([2, 16, 256]);
    return m.forwardAsync(x, [h0, c0]);
  }

  function expectedFor(seed: number): [Tensor, [Tensor, Tensor]] {
    manualSeed(seed);
    const m = new LSTM({ inputSize: 64, hiddenSize: 256, numLayers: 2 });
    const x = randn([120, 16, 64]);
    const h0 = randn([2, 16, 256]), c0 = randn([2, 16, 256]);
    return m.forward(x, [h0, c0]);
  }

  /** Collects garbage (when possible) and allocates NaN-filled arrays that would reuse freed memory. */
  function collectAndChurn(): void {
    if (!gc) return;
    gc();
    gc();
    const churn: Float32Array[] = [];
    for (let i = 0; i < 20; i++) churn.push(new Float32Array(120 * 16 * 64).fill(Number.NaN));
    gc();
  }

  it('dropping every JS reference to the module and inputs (and collecting garbage) does not change the result', async () => {
    const seed = 96;
    const expected = expectedFor(seed);
    const promise = startDetached(seed);
    await new Promise((resolve) => setImmediate(resolve));
    collectAndChurn();
    assertBitwiseEqual(await promise, expected, 'result after dropping references');
  });

  // lib/ itself keeps the arguments referenced while it awaits, so the test above cannot tell whether the addon
  // holds them. This one calls the addon directly with arrays nothing else references.
  it('the addon keeps its argument arrays alive until the job ends', async function () {
    if (!gc) this.skip(); // needs a garbage collector to call
    manualSeed(99);
    const I = 32, H = 128, T = 1500, B = 8; // long enough (~50 ms) to still run while garbage is collected
    const m = new LSTM({ inputSize: I, hiddenSize: H });
    const x = randn([T, B, I]);
    const [expected, [expectedH, expectedC]] = m.forward(x);
    const output = new Float32Array(T * B * H), hN = new Float32Array(B * H), cN = new Float32Array(B * H);
    const start = (): { job: Promise<void>; inputRef: WeakRef<Float32Array> } => {
      const input = x.data.slice();
      const weights = m.parameters().map((p) => p.data.slice());
      const spec = {
        kind: 2, inputSize: I, hiddenSize: H, projSize: 0, numLayers: 1, bidirectional: false, bias: true, batchFirst: false,
        seqLen: T, batch: B, dropout: 0, training: false, seed: 0, dtype: 'float32' as const,
      };
      const job = native.rnnForwardAsync({ spec, weights, input, h0: null, c0: null, output, hN, cN, batchSizes: null, saved: null });
      return { job, inputRef: new WeakRef(input) };
    };
    const { job, inputRef } = start();
    await new Promise((resolve) => setImmediate(resolve));
    collectAndChurn();
    assert.ok(inputRef.deref() !== undefined, 'the input array must stay referenced while the job may read it');
    await job;
    assert.deepEqual(output, expected.data);
    assert.deepEqual(hN, expectedH.data);
    assert.deepEqual(cN, expectedC.data);
  });
});

describe('async: loadStateDict while a forwardAsync is in flight', () => {
  it('throws a clear Error while in flight and works once the call settles', async () => {
    manualSeed(97);
    const m = new GRU({ inputSize: 32, hiddenSize: 128, numLayers: 2 });
    const x = randn([200, 8, 32]);
    const expected = m.forward(x);
    const replacement = Object.fromEntries(m.namedParameters().map(([k, t]) => [k, new Tensor(t.data.map((v) => v / 2), t.shape)]));
    const before = m.namedParameters().map(([, t]) => t.data.slice());

    const p1 = m.forwardAsync(x);
    const p2 = m.forwardAsync(x);
    assert.throws(() => m.loadStateDict(replacement), (e: unknown) => {
      assert.equal((e as Error).constructor, Error);
      assert.match((e as Error).message, /^Cannot load a state dict into GRU while 2 forwardAsync call\(s\) are running; await them first$/);
      return true;
    });
    // nothing was loaded
    m.namedParameters().forEach(([k, t], i) => assert.deepEqual(t.data, before[i], `${k} changed`));
    const [r1, r2] = await Promise.all([p1, p2]);
    assertBitwiseEqual(r1, expected, 'first in-flight call');
    assertBitwiseEqual(r2, expected, 'second in-flight call');

    // settled: the load goes through and the next forward uses the new weights
    assert.deepEqual(m.loadStateDict(replacement), { missingKeys: [], unexpectedKeys: [] });
    m.namedParameters().forEach(([k, t], i) => assert.deepEqual(t.data, before[i].map((v) => v / 2), `${k} not loaded`));
    const [out] = await m.forwardAsync(x);
    assert.notDeepEqual(out.data, (expected[0] as Tensor).data);
  });

  it('a rejected forwardAsync does not leave the module marked as busy', async () => {
    const m = new LSTMCell({ inputSize: 4, hiddenSize: 3 });
    await assert.rejects(async () => m.forwardAsync(randn([2, 5])), RangeError);
    assert.doesNotThrow(() => m.loadStateDict(m.stateDict()));
  });

  it('a cell is also protected while in flight', async () => {
    manualSeed(98);
    const m = new LSTMCell({ inputSize: 64, hiddenSize: 256 });
    const p = m.forwardAsync(randn([64, 64]));
    assert.throws(() => m.loadStateDict(m.stateDict()), /^Error: Cannot load a state dict into LSTMCell while 1 forwardAsync call\(s\) are running; await them first$/);
    await p;
    assert.doesNotThrow(() => m.loadStateDict(m.stateDict()));
  });
});
