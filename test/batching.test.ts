// Dynamic batching: requests gathered into one packed forward get what running each alone gives (within float32
// rounding, relative error <= 1e-6 on the CPU: not bit for bit), batches form as the options say (sizes asserted
// only where they are decided within one tick), and failures, close() and the queue cap reject with clear errors.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BATCHER_CLOSED, BATCHER_QUEUE_FULL, BatchedResult, DynamicBatcher, GRU, LSTM, LSTMState, RNN, Tensor, cuda,
  dynamicBatcher, getNumThreads, manualSeed, randn, tensor,
} from '../lib/index';
import { startServer } from '../examples/server';
import { relativeError } from './helpers/fixtures';

type Recurrent = RNN | LSTM | GRU;
type State = Tensor | LSTMState;

const INPUT = 5;
/** Different lengths, with repeats (the packing sort must keep request order among equal lengths). */
const LENGTHS = [7, 3, 12, 1, 7, 5];

const statesOf = (s: State): Tensor[] => (Array.isArray(s) ? s : [s]);

function assertClose(actual: Tensor, expected: Tensor, what: string, tolerance = 1e-6): void {
  assert.equal(actual.device, 'cpu', `${what} should come back on the CPU`);
  const err = relativeError(actual, expected.cpu());
  assert.ok(err <= tolerance, `${what}: relative error ${err}`);
}

/** The module's result for `input` run alone (unbatched), the reference every batched result must equal. */
function alone(module: Recurrent, input: Tensor, state?: State): [Tensor, Tensor[]] {
  const [out, hN] = (module as LSTM).forward(input, state as LSTMState | undefined);
  return [out, statesOf(hN)];
}

function assertSameAsAlone(module: Recurrent, input: Tensor, state: State | undefined, result: BatchedResult, what: string, tolerance = 1e-6): void {
  const [out, hN] = alone(module, input, state);
  assertClose(result.output, out, `${what} output`, tolerance);
  const got = statesOf(result.state);
  assert.equal(got.length, hN.length, `${what}: state arity`);
  got.forEach((s, i) => assertClose(s, hN[i], `${what} state[${i}]`, tolerance));
}

/** A random starting state shaped for one unbatched sequence through `module`. */
function randomState(module: Recurrent): State {
  const rows = module.numLayers * (module.bidirectional ? 2 : 1);
  if (module instanceof LSTM) return [randn([rows, module.projSize || module.hiddenSize]), randn([rows, module.hiddenSize])];
  return randn([rows, module.hiddenSize]);
}

const configs: [string, () => Recurrent][] = [
  ['RNN tanh', () => new RNN({ inputSize: INPUT, hiddenSize: 6 })],
  ['RNN relu, 2 layers, bidirectional', () => new RNN({ inputSize: INPUT, hiddenSize: 6, numLayers: 2, nonlinearity: 'relu', bidirectional: true })],
  ['LSTM, 2 layers, bidirectional, projSize 3', () => new LSTM({ inputSize: INPUT, hiddenSize: 6, numLayers: 2, bidirectional: true, projSize: 3 })],
  ['LSTM batchFirst', () => new LSTM({ inputSize: INPUT, hiddenSize: 8, batchFirst: true })],
  ['GRU, 2 layers', () => new GRU({ inputSize: INPUT, hiddenSize: 7, numLayers: 2 })],
  ['GRU bidirectional, no bias', () => new GRU({ inputSize: INPUT, hiddenSize: 4, bidirectional: true, bias: false })],
];

function lstm(): LSTM {
  manualSeed(5);
  return new LSTM({ inputSize: INPUT, hiddenSize: 6 }).eval() as LSTM;
}

/** Submits one request per length in the same tick. */
function submitAll(batcher: DynamicBatcher<LSTMState>, lengths: number[]): { inputs: Tensor[]; results: Promise<BatchedResult<LSTMState>>[] } {
  const inputs = lengths.map((n) => randn([n, INPUT]));
  return { inputs, results: inputs.map((x) => batcher.run(x)) };
}

describe('DynamicBatcher', () => {
  describe('results equal running each request alone', () => {
    for (const [label, make] of configs) {
      it(`${label}: ${LENGTHS.length} requests of lengths ${LENGTHS.join(', ')}, some with a starting state`, async () => {
        manualSeed(21);
        const module = make();
        module.eval();
        const batcher = dynamicBatcher(module, { maxBatch: 16, maxDelayMs: 0 });
        const inputs = LENGTHS.map((n) => randn([n, INPUT]));
        const states = inputs.map((_, i) => (i % 2 === 1 ? randomState(module) : undefined));
        const results = await Promise.all(inputs.map((x, i) => batcher.run(x, states[i])));
        results.forEach((r, i) => assertSameAsAlone(module, inputs[i], states[i], r, `request ${i} (length ${LENGTHS[i]})`));
        const stats = batcher.stats();
        assert.deepEqual(stats.batchSizes, { [LENGTHS.length]: 1 }, 'one batch of all the requests');
        assert.equal(stats.completed, LENGTHS.length);
      });

      it(`${label}: a lone request (run unbatched) with a starting state`, async () => {
        manualSeed(22);
        const module = make();
        module.eval();
        const batcher = dynamicBatcher(module, { maxBatch: 16, maxDelayMs: 0 });
        const x = randn([4, INPUT]);
        const state = randomState(module);
        assertSameAsAlone(module, x, state, await batcher.run(x, state), 'lone request');
        assert.deepEqual(batcher.stats().batchSizes, { 1: 1 });
      });
    }

    it('a single request, and a request whose input is changed after submitting (inputs are copied)', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxDelayMs: 0 });
      const x = randn([4, INPUT]);
      const original = x.clone();
      const pending = batcher.run(x);
      x.data.fill(0);
      assertSameAsAlone(module, original, undefined, await pending, 'single request');
    });

    it(`on the module's device (${cuda.isAvailable() ? 'CUDA' : 'the CPU: no CUDA device here'}), results on the CPU`, async () => {
      manualSeed(8);
      const reference = new LSTM({ inputSize: INPUT, hiddenSize: 6, numLayers: 2 }).eval() as LSTM;
      const onDevice = new LSTM({ inputSize: INPUT, hiddenSize: 6, numLayers: 2 }).eval() as LSTM;
      onDevice.loadStateDict(reference.stateDict());
      if (cuda.isAvailable()) onDevice.to('cuda');
      const batcher = dynamicBatcher(onDevice, { maxDelayMs: 0 });
      const inputs = LENGTHS.map((n) => randn([n, INPUT]));
      const state = randomState(reference) as LSTMState;
      const results = await Promise.all(inputs.map((x, i) => batcher.run(x, i === 0 ? state : undefined)));
      // CUDA GEMMs round differently from OpenBLAS
      const tolerance = onDevice.device === 'cpu' ? 1e-6 : 1e-5;
      results.forEach((r, i) => assertSameAsAlone(reference, inputs[i], i === 0 ? state : undefined, r, `request ${i}`, tolerance));
      const lone = randn([3, INPUT]);
      assertSameAsAlone(reference, lone, state, await batcher.run(lone, state), 'lone request', tolerance);
    });
  });

  describe('forming batches', () => {
    it('maxBatch caps each batch: 8 requests in one tick with maxBatch 3 run as 3 + 3 + 2', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxBatch: 3, maxDelayMs: 0 });
      const { inputs, results } = submitAll(batcher, [2, 9, 4, 4, 1, 6, 3, 5]);
      const done = await Promise.all(results);
      done.forEach((r, i) => assertSameAsAlone(module, inputs[i], undefined, r, `request ${i}`));
      assert.deepEqual(batcher.stats().batchSizes, { 3: 2, 2: 1 });
      assert.equal(batcher.stats().batches, 3);
    });

    it('a full batch starts at once; requests arriving while it runs form the next batch', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxBatch: 4, maxDelayMs: 1000 });
      const first = submitAll(batcher, [3, 3, 3, 3]);
      assert.equal(batcher.stats().running, 1, 'the full batch started without waiting for maxDelayMs');
      const second = submitAll(batcher, [2, 5, 1]);
      assert.equal(batcher.stats().queued, 3);
      await Promise.all(first.results);
      await new Promise(setImmediate);
      // the three waited longer than the running batch: they start as it ends, not after the 1000 ms delay
      assert.equal(batcher.stats().queued, 0);
      const done = await Promise.all(second.results);
      done.forEach((r, i) => assertSameAsAlone(module, second.inputs[i], undefined, r, `late request ${i}`));
      assert.deepEqual(batcher.stats().batchSizes, { 4: 1, 3: 1 });
    });

    it('maxDelayMs flushes a batch that is not full', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxBatch: 64, maxDelayMs: 5 });
      const { results } = submitAll(batcher, [2, 3]);
      assert.equal(batcher.stats().running, 0, 'not full: waits for maxDelayMs');
      assert.equal(batcher.stats().queued, 2);
      await Promise.all(results);
      assert.deepEqual(batcher.stats().batchSizes, { 2: 1 });
    });

    it('maxBatch 1 runs one request at a time', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxBatch: 1 });
      const { inputs, results } = submitAll(batcher, [3, 1, 4]);
      assert.equal(batcher.stats().running, 1);
      assert.equal(batcher.stats().queued, 2);
      (await Promise.all(results)).forEach((r, i) => assertSameAsAlone(module, inputs[i], undefined, r, `request ${i}`));
      assert.deepEqual(batcher.stats().batchSizes, { 1: 3 });
    });

    it('concurrency 2 runs two batches at once', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxBatch: 2, concurrency: 2 });
      const { inputs, results } = submitAll(batcher, [2, 3, 4, 5, 6]);
      assert.equal(batcher.stats().running, 2);
      assert.equal(batcher.stats().queued, 1);
      (await Promise.all(results)).forEach((r, i) => assertSameAsAlone(module, inputs[i], undefined, r, `request ${i}`));
      assert.deepEqual(batcher.stats().batchSizes, { 2: 2, 1: 1 });
    });
  });

  describe('failures, close and the queue cap', () => {
    it('a batch whose forward throws rejects all its requests with that error; later batches still run', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxBatch: 2, maxDelayMs: 0 });
      const forward = module.forwardAsync;
      module.forwardAsync = (() => Promise.reject(new Error('simulated device failure'))) as unknown as typeof module.forwardAsync;
      const failing = submitAll(batcher, [2, 3]);
      module.forwardAsync = forward;
      const outcomes = await Promise.allSettled(failing.results);
      for (const o of outcomes) {
        assert.equal(o.status, 'rejected');
        assert.match(String((o as PromiseRejectedResult).reason), /simulated device failure/);
      }
      const later = submitAll(batcher, [4]);
      assertSameAsAlone(module, later.inputs[0], undefined, await later.results[0], 'request after the failure');
      const stats = batcher.stats();
      assert.equal(stats.failed, 2);
      assert.equal(stats.completed, 1);
    });

    it('a disposed parameter fails the batch with the module\'s own error', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxDelayMs: 0 });
      module.parameters()[1].dispose();
      await assert.rejects(batcher.run(randn([3, INPUT])), /parameter weight_hh_l0 of LSTM has been disposed/);
    });

    it('close() rejects queued requests, lets the running batch finish, then refuses new ones', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxBatch: 2, maxDelayMs: 1000 });
      const { inputs, results } = submitAll(batcher, [3, 4, 5, 6]);
      let finished = 0;
      results.slice(0, 2).forEach((p) => p.then(() => finished++, () => undefined));
      const closing = batcher.close();
      assert.equal(batcher.close(), closing, 'close() twice returns the same promise');
      assert.ok(batcher.closed);
      for (const queued of results.slice(2)) {
        await assert.rejects(queued, (e: Error & { code?: string }) => e.code === BATCHER_CLOSED && /closed before this request ran/.test(e.message));
      }
      await closing;
      assert.equal(finished, 2, 'close() resolved after the running batch settled');
      (await Promise.all(results.slice(0, 2))).forEach((r, i) => assertSameAsAlone(module, inputs[i], undefined, r, `running request ${i}`));
      await assert.rejects(batcher.run(randn([2, INPUT])), (e: Error & { code?: string }) => e.code === BATCHER_CLOSED && /no new requests/.test(e.message));
      assert.equal(batcher.stats().rejected, 3);
    });

    it('maxQueue rejects requests beyond the cap instead of queueing them', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module, { maxBatch: 2, maxQueue: 3, maxDelayMs: 0 });
      const accepted = submitAll(batcher, [2, 2, 3, 3, 3]); // 2 running, 3 queued
      const over = batcher.run(randn([2, INPUT]));
      await assert.rejects(over, (e: Error & { code?: string }) => e.code === BATCHER_QUEUE_FULL && /3 requests are already waiting \(maxQueue\)/.test(e.message));
      (await Promise.all(accepted.results)).forEach((r, i) => assertSameAsAlone(module, accepted.inputs[i], undefined, r, `request ${i}`));
      assert.equal(batcher.stats().rejected, 1);
      assert.equal(batcher.stats().completed, 5);
    });
  });

  describe('argument errors', () => {
    it('options', () => {
      const module = lstm();
      assert.throws(() => dynamicBatcher(module, { maxBatch: 0 }), { name: 'RangeError', message: /integer >= 1 for maxBatch but received 0/ });
      assert.throws(() => dynamicBatcher(module, { maxBatch: 2.5 }), { name: 'TypeError', message: /positive integer for maxBatch/ });
      assert.throws(() => dynamicBatcher(module, { maxDelayMs: -1 }), { name: 'RangeError', message: /maxDelayMs but received -1/ });
      assert.throws(() => dynamicBatcher(module, { maxDelayMs: '5' as unknown as number }), { name: 'TypeError', message: /number for maxDelayMs/ });
      assert.throws(() => dynamicBatcher(module, { maxQueue: 0 }), { name: 'RangeError', message: /maxQueue/ });
      assert.throws(() => dynamicBatcher(module, { concurrency: 0 }), { name: 'RangeError', message: /concurrency/ });
      assert.throws(() => dynamicBatcher(module, { maxBtach: 4 } as never), { name: 'TypeError', message: /Unknown option "maxBtach"/ });
      assert.throws(() => dynamicBatcher({} as never), { name: 'TypeError', message: /RNN, LSTM or GRU module for dynamicBatcher\(\) but received an object/ });
    });

    it('inputs and states, rejected before anything is queued', async () => {
      const module = lstm();
      const batcher = dynamicBatcher(module);
      await assert.rejects(batcher.run(randn([4, 3])), { name: 'RangeError', message: /\[steps >= 1, inputSize = 5\].*received shape \[4, 3\]/ });
      await assert.rejects(batcher.run(randn([1, 4, INPUT])), { name: 'RangeError', message: /one unbatched sequence.*\[1, 4, 5\]/ });
      await assert.rejects(batcher.run(randn([0, INPUT])), { name: 'RangeError', message: /received shape \[0, 5\]/ });
      await assert.rejects(batcher.run([[1, 2, 3, 4, 5]] as never), { name: 'TypeError', message: /Tensor for input but received an array/ });
      await assert.rejects(batcher.run(tensor(BigInt64Array.from([1n, 2n, 3n, 4n, 5n]), [1, 5], { dtype: 'int64' }) as never), { name: 'TypeError', message: /float32 Tensor for input/ });
      await assert.rejects(batcher.run(randn([2, INPUT]), randn([1, 6]) as never), { name: 'TypeError', message: /pair \[h0, c0\]/ });
      await assert.rejects(batcher.run(randn([2, INPUT]), [randn([1, 6]), randn([2, 6])]), { name: 'RangeError', message: /initialState\[1\] of shape \[1, 6\].*\[2, 6\]/ });
      const gru = dynamicBatcher(new GRU({ inputSize: INPUT, hiddenSize: 3, numLayers: 2 }));
      await assert.rejects(gru.run(randn([2, INPUT]), randn([2, 1, 3])), { name: 'RangeError', message: /initialState of shape \[2, 3\]/ });
      assert.equal(batcher.stats().submitted + gru.stats().submitted, 0);
    });

    it('a module in training mode with dropout between layers', async () => {
      const module = new LSTM({ inputSize: INPUT, hiddenSize: 4, numLayers: 2, dropout: 0.5 });
      await assert.rejects(dynamicBatcher(module).run(randn([2, INPUT])), /training mode with dropout 0.5.*call module.eval\(\)/);
    });
  });

  describe('examples/server.ts', () => {
    const modelPath = path.join(os.tmpdir(), `node-rnn-batching-test-${process.pid}.safetensors`);
    after(() => fs.rmSync(modelPath, { force: true }));

    it('creates the model file, serves predictions equal to the model run alone, and answers bad requests with 400', async () => {
      // threads: keep this process's setting (the server would otherwise set 1 for the other tests too)
      const server = await startServer({ port: 0, modelPath, maxDelayMs: 0, threads: getNumThreads(), log: () => undefined });
      try {
        assert.ok(fs.existsSync(modelPath), 'the missing model file was created');
        const { model } = server;
        const post = (body: string) => fetch(`${server.url}/predict`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        const inputs = [5, 1, 9, 3].map((n) => randn([n, model.config.inputSize]));
        const answers = await Promise.all(inputs.map(async (x, i) => {
          const res = await post(JSON.stringify({ input: x.toArray(), returnHidden: i === 0 }));
          assert.equal(res.status, 200);
          return (await res.json()) as { output: number[][]; hidden?: { h: number[][]; c: number[][] } };
        }));
        answers.forEach((answer, i) => {
          const [out, [h, c]] = model.rnn.forward(inputs[i]);
          assertClose(tensor(answer.output), model.applyHead(out), `answer ${i}`);
          if (i === 0) {
            assertClose(tensor(answer.hidden!.h), h, 'hidden h');
            assertClose(tensor(answer.hidden!.c), c, 'hidden c');
          } else {
            assert.equal(answer.hidden, undefined);
          }
        });
        const bad: [string, RegExp][] = [
          ['{"input": [[1, 2', /invalid JSON/],
          ['{"input": [[1, 2]]}', /input\[0\] should be an array of 64 numbers/],
          ['{"input": []}', /"input" should be an array of 1 to 4096 steps/],
          [JSON.stringify({ input: [Array(64).fill('x')] }), /input\[0\]\[0\] should be a finite number but is "x"/],
          [JSON.stringify({ input: [Array(64).fill(0)], extra: 1 }), /unknown field\(s\) "extra"/],
        ];
        for (const [body, message] of bad) {
          const res = await post(body);
          assert.equal(res.status, 400, body);
          assert.match(((await res.json()) as { error: string }).error, message);
        }
        assert.equal((await fetch(`${server.url}/nowhere`)).status, 404);
        assert.equal((await fetch(`${server.url}/predict`)).status, 405);
        const health = (await (await fetch(`${server.url}/health`)).json()) as { status: string };
        assert.equal(health.status, 'ok');
        const metrics = (await (await fetch(`${server.url}/metrics`)).json()) as {
          requests: number; errors: number; batches: { sizes: Record<string, number> }; latencyMs: { p50: number; p99: number };
        };
        assert.equal(metrics.requests, inputs.length + bad.length);
        assert.equal(metrics.errors, bad.length);
        const batched = Object.entries(metrics.batches.sizes).reduce((n, [size, count]) => n + Number(size) * count, 0);
        assert.equal(batched, inputs.length, 'every valid request went through the batcher once');
        assert.ok(metrics.latencyMs.p50 > 0 && metrics.latencyMs.p99 >= metrics.latencyMs.p50);
      } finally {
        await server.close();
      }
    });
  });
});
