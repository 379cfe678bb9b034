// Streaming sessions: chunks fed one after another give the outputs and final state of one forward over the
// whole sequence, sync and async, with concurrent stepAsync calls serialised per session.
import { strict as assert } from 'node:assert';
import { GRU, LSTM, LSTMState, RNN, RecurrentSession, Tensor, cat, manualSeed, narrow, randn, session } from '../lib/index';
import { relativeError } from './helpers/fixtures';

const T = 30;
const CHUNKS = [7, 7, 7, 9];
const B = 3, INPUT = 5;

type Kind = 'LSTM' | 'GRU' | 'RNN';
type Module = LSTM | GRU | RNN;

function make(kind: Kind, batchFirst: boolean): Module {
  const options = { inputSize: INPUT, hiddenSize: 6, numLayers: 2, batchFirst, bidirectional: false };
  if (kind === 'LSTM') return new LSTM(options);
  if (kind === 'GRU') return new GRU(options);
  return new RNN(options);
}

/** The time axis of an input/output: 1 for batched batchFirst, else 0. */
const timeDim = (batched: boolean, batchFirst: boolean): number => (batched && batchFirst ? 1 : 0);

function sequence(batched: boolean, batchFirst: boolean): Tensor {
  return randn(batched ? (batchFirst ? [B, T, INPUT] : [T, B, INPUT]) : [T, INPUT]);
}

function chunksOf(x: Tensor, dim: number): Tensor[] {
  let start = 0;
  return CHUNKS.map((len) => {
    const c = narrow(x, dim, start, len);
    start += len;
    return c;
  });
}

const statesOf = (s: Tensor | LSTMState | null): Tensor[] => (s === null ? [] : Array.isArray(s) ? s : [s]);

function assertClose(actual: Tensor, expected: Tensor, what: string): void {
  const err = relativeError(actual, expected);
  assert.ok(err <= 1e-6, `${what}: relative error ${err}`);
}

function whole(module: Module, x: Tensor): [Tensor, Tensor[]] {
  const [out, state] = (module as LSTM).forward(x);
  return [out, statesOf(state)];
}

describe('RecurrentSession (streaming)', () => {
  for (const kind of ['LSTM', 'GRU', 'RNN'] as const) {
    for (const batchFirst of [false, true]) {
      for (const batched of [true, false]) {
        const label = `${kind}, 2 layers, ${batched ? 'batched' : 'unbatched'}${batchFirst ? ', batchFirst' : ''}`;
        const setup = () => {
          manualSeed(11);
          const module = make(kind, batchFirst);
          const x = sequence(batched, batchFirst);
          const dim = timeDim(batched, batchFirst);
          return { module, x, dim, chunks: chunksOf(x, dim), ref: whole(module, x) };
        };

        it(`${label}: step over chunks 7,7,7,9 equals one forward`, () => {
          const { module, dim, chunks, ref } = setup();
          const s = session(module);
          assert.equal(s.state, null);
          const outs = chunks.map((c) => s.step(c));
          outs.forEach((o, i) => assert.equal(o.shape[dim], CHUNKS[i]));
          assertClose(cat(outs, dim), ref[0], 'output');
          const state = statesOf(s.state);
          assert.equal(state.length, ref[1].length);
          state.forEach((t, i) => assertClose(t, ref[1][i], `state ${i}`));
          assert.ok(outs.every((o) => !o.requiresGrad), 'chunks run without a graph');
        });

        it(`${label}: stepAsync over chunks equals one forward`, async () => {
          const { module, dim, chunks, ref } = setup();
          const s = session(module);
          const outs: Tensor[] = [];
          for (const c of chunks) outs.push(await s.stepAsync(c));
          assertClose(cat(outs, dim), ref[0], 'output');
          statesOf(s.state).forEach((t, i) => assertClose(t, ref[1][i], `state ${i}`));
        });
      }
    }
  }

  for (const kind of ['LSTM', 'GRU', 'RNN'] as const) {
    it(`${kind}: concurrent stepAsync calls on one session are serialised`, async () => {
      manualSeed(3);
      const module = make(kind, true);
      const x = sequence(true, true);
      const chunks = chunksOf(x, 1);
      const sync = session(module);
      const expected = chunks.map((c) => sync.step(c));
      const s = session(module);
      const pending = chunks.map((c) => s.stepAsync(c)); // all fired before any completes
      assert.equal(s.pending, 4);
      assert.throws(() => s.step(chunks[0]), /pending/);
      const outs = await Promise.all(pending);
      assert.equal(s.pending, 0);
      outs.forEach((o, i) => assert.deepEqual(o.data, expected[i].data, `chunk ${i}`));
      statesOf(s.state).forEach((t, i) => assert.deepEqual(t.data, statesOf(sync.state)[i].data, `state ${i}`));
    });
  }

  it('two sessions on one module are independent', async () => {
    manualSeed(4);
    const module = make('LSTM', false);
    const xa = sequence(true, false), xb = sequence(true, false);
    const refA = whole(module, xa), refB = whole(module, xb);
    const a = session(module), b = session(module);
    const ca = chunksOf(xa, 0), cb = chunksOf(xb, 0);
    const outA: Tensor[] = [], outB: Tensor[] = [];
    for (let i = 0; i < CHUNKS.length; i++) {
      // interleaved, one sync and one async
      outA.push(a.step(ca[i]));
      outB.push(await b.stepAsync(cb[i]));
    }
    assertClose(cat(outA, 0), refA[0], 'session a');
    assertClose(cat(outB, 0), refB[0], 'session b');
    statesOf(a.state).forEach((t, i) => assertClose(t, refA[1][i], `a state ${i}`));
    statesOf(b.state).forEach((t, i) => assertClose(t, refB[1][i], `b state ${i}`));
  });

  it('an initial state and reset()', () => {
    manualSeed(5);
    const module = make('GRU', false) as GRU;
    const x = sequence(true, false);
    const h0 = randn([2, B, 6]);
    const [ref, hN] = module.forward(x, h0);
    const s = session(module, h0);
    assert.equal(s.state, h0);
    const outs = chunksOf(x, 0).map((c) => s.step(c));
    assertClose(cat(outs, 0), ref, 'output from h0');
    assertClose(s.state as Tensor, hN, 'hN from h0');
    s.reset();
    assert.equal(s.state, null);
    const [ref0] = module.forward(x);
    assertClose(cat(chunksOf(x, 0).map((c) => s.step(c)), 0), ref0, 'output after reset');
  });

  it('a batch-size change between chunks throws a RangeError; reset() allows a new batch size', async () => {
    manualSeed(6);
    const module = make('LSTM', true);
    const s = session(module);
    s.step(randn([3, 4, INPUT]));
    assert.throws(() => s.step(randn([2, 4, INPUT])), (e: unknown) => e instanceof RangeError && /batch size 3/.test(e.message) && /batch size 2/.test(e.message));
    assert.throws(() => s.step(randn([4, INPUT])), RangeError);
    await assert.rejects(s.stepAsync(randn([5, 4, INPUT])), RangeError);
    s.step(randn([3, 2, INPUT])); // the state is intact
    s.reset();
    assert.equal(s.step(randn([2, 4, INPUT])).shape[0], 2);
  });

  it('a bidirectional module cannot stream', () => {
    for (const M of [LSTM, GRU, RNN]) {
      const module = new M({ inputSize: 2, hiddenSize: 3, bidirectional: true });
      assert.throws(() => session(module), (e: unknown) => e instanceof Error && /bidirectional/.test(e.message));
    }
  });

  it('rejects non-modules, and a disposed session throws', async () => {
    assert.throws(() => session({} as LSTM), TypeError);
    const module = make('RNN', false);
    const s = session(module);
    s.step(randn([4, B, INPUT]));
    s.dispose();
    assert.ok(s.disposed);
    assert.equal(s.state, null);
    assert.throws(() => s.step(randn([4, B, INPUT])), /disposed/);
    await assert.rejects(s.stepAsync(randn([4, B, INPUT])), /disposed/);
    assert.throws(() => s.reset(), /disposed/);
    assert.ok(s instanceof RecurrentSession);
  });
});
