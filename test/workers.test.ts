// The addon in several worker_threads at once: each environment loads its own instance (Node-API per-environment
// instance data), and a worker that exits does not disturb the ones still running or the main thread.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LSTM, manualSeed, noGrad, randn } from '../lib/index';

const LIB = path.resolve(__dirname, '../lib/index.js');

// Runs in each worker: the same seeded LSTM and input as `reference()` below, `rounds` times (sync, or async when
// workerData.async), and posts back the output.
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const rnn = require(workerData.lib);
(async () => {
  let out;
  for (let i = 0; i < workerData.rounds; i++) {
    rnn.manualSeed(1);
    const big = workerData.big; // long calls, so that a terminate lands while one runs
    const lstm = new rnn.LSTM(big ? { inputSize: 256, hiddenSize: 512 } : { inputSize: 8, hiddenSize: 16, numLayers: 2 });
    const x = big ? rnn.randn([200, 64, 256]) : rnn.randn([20, 4, 8]);
    out = workerData.async ? (await lstm.forwardAsync(x))[0] : rnn.noGrad(() => lstm.forward(x)[0]);
  }
  parentPort.postMessage(Float32Array.from(out.data));
})().catch((e) => { throw e; });
`;

function reference(): Float32Array {
  manualSeed(1);
  const lstm = new LSTM({ inputSize: 8, hiddenSize: 16, numLayers: 2 });
  const x = randn([20, 4, 8]);
  return Float32Array.from(noGrad(() => lstm.forward(x)[0]).data);
}

/** Starts a worker; resolves with its message once it has exited cleanly (exit code 0). */
function runWorker(options: { rounds: number; async: boolean; big?: boolean }): { worker: Worker; result: Promise<Float32Array> } {
  const worker = new Worker(WORKER_CODE, { eval: true, workerData: { lib: LIB, ...options } });
  const result = new Promise<Float32Array>((resolve, reject) => {
    let message: Float32Array | null = null;
    worker.on('message', (m: Float32Array) => (message = m));
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with code ${code}`));
      else if (message === null) reject(new Error('worker exited without posting a result'));
      else resolve(message);
    });
  });
  return { worker, result };
}

describe('worker_threads', function () {
  this.timeout(120000);

  it('3 workers and the main thread at once give bitwise identical results', async () => {
    const workers = [runWorker({ rounds: 3, async: false }), runWorker({ rounds: 3, async: true }), runWorker({ rounds: 3, async: false })];
    const expected = reference(); // while the workers run
    const results = await Promise.all(workers.map((w) => w.result));
    for (const [i, r] of results.entries()) {
      assert.equal(r.length, 20 * 4 * 16);
      assert.deepEqual(r, expected, `worker ${i} differs from the main thread`);
    }
  });

  it('a worker that exits while another keeps running does not crash either, nor the main thread', async () => {
    const long = runWorker({ rounds: 300, async: true });
    const short = runWorker({ rounds: 1, async: false });
    const shortResult = await short.result; // exited, and its environment torn down, while `long` still runs
    // stopped mid-run: one worker between or inside sync forwards, one while its forwardAsync is on the
    // thread pool (the promise can no longer be settled; that must not take the process down)
    const terminated = [runWorker({ rounds: 100000, async: false }), runWorker({ rounds: 100000, async: true, big: true })];
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const t of terminated) {
      await t.worker.terminate();
      await t.result.catch(() => undefined);
    }
    const expected = reference();
    assert.deepEqual(shortResult, expected);
    assert.deepEqual(await long.result, expected);
    assert.deepEqual(reference(), expected, 'the main thread still works');
  });
});
