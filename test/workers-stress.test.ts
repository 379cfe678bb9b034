// Workers terminated at random points of their life while they use the addon: while it initialises, inside sync
// forwards, with forwardAsync calls on the thread pool, while they build modules. A terminated environment refuses
// every Node-API call that may run JS, so native code there sees errors it can no longer throw to JS; one that
// escaped as a C++ exception aborted the whole process ("terminate called after throwing an instance of
// 'Napi::Error'"). The race is made likely by numbers (many workers, each stopped at a random moment, on a
// loaded machine), not forced, so a pass is evidence rather than proof; the abort itself fails the whole run.
// Without native/binding/napi_config.h's switch this spec aborted in 20 of 20 runs with both cores kept busy.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LSTM, manualSeed, noGrad, randn } from '../lib/index';

const LIB = path.resolve(__dirname, '../lib/index.js');

// The addon file lib/ loaded (build/Release, or NODE_RNN_ADDON's), so 'init' workers re-run the same module's Init.
function addonFile(): string {
  const file = Object.keys(require.cache).find((f) => f.endsWith('.node'));
  if (!file) throw new Error('the native addon is not in require.cache');
  return file;
}

type Mode = 'init' | 'sync' | 'async' | 'construct';

// Posts 'ready' and then loops until terminated. 'init' loads the addon again and again (each load runs its Init
// in a new Node-API environment of this worker), so a terminate most likely lands inside native Init.
const STRESS_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const { mode, lib, addon } = workerData;
if (mode === 'init') {
  parentPort.postMessage('ready');
  for (;;) process.dlopen({ exports: {} }, addon);
}
const rnn = require(lib);
const lstm = new rnn.LSTM({ inputSize: 4, hiddenSize: 8 });
const x = rnn.randn([3, 2, 4]);
parentPort.postMessage('ready');
if (mode === 'sync') for (;;) rnn.noGrad(() => lstm.forward(x));
if (mode === 'construct') for (;;) rnn.noGrad(() => new rnn.LSTM({ inputSize: 4, hiddenSize: 8, numLayers: 2 }).forward(x));
if (mode === 'async') (async () => {
  for (;;) await Promise.all(Array.from({ length: 8 }, () => lstm.forwardAsync(x)));
})();
`;

interface Outcome {
  mode: Mode;
  from: 'spawn' | 'ready';
  exitCode: number;
  errors: string[];
}

/**
 * Starts a worker and terminates it `delayMs` after `from`: 'spawn' (somewhere in its startup: loading Node, lib/
 * and the addon) or 'ready' (inside its loop).
 */
async function stopAtRandom(mode: Mode, from: 'spawn' | 'ready', delayMs: number): Promise<Outcome> {
  const worker = new Worker(STRESS_CODE, { eval: true, workerData: { mode, lib: LIB, addon: addonFile() } });
  const errors: string[] = [];
  worker.on('error', (e) => errors.push(String(e)));
  const exited = new Promise<number>((resolve) => worker.on('exit', resolve));
  if (from === 'ready') await Promise.race([new Promise((resolve) => worker.once('message', resolve)), exited]);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  await worker.terminate();
  return { mode, from, exitCode: await exited, errors };
}

// Runs beside the stopped workers until told to stop: the same seeded forward as `reference()` (async, so its
// calls overlap the teardowns), counting results that differ from its first.
const CONTROL_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const rnn = require(workerData.lib);
let stop = false;
parentPort.once('message', () => (stop = true));
(async () => {
  let first = null, runs = 0, changed = 0;
  while (!stop) {
    rnn.manualSeed(1);
    const lstm = new rnn.LSTM({ inputSize: 8, hiddenSize: 16 });
    const out = Float32Array.from((await lstm.forwardAsync(rnn.randn([5, 3, 8])))[0].data);
    if (first === null) first = out;
    else if (out.some((v, i) => v !== first[i])) changed++;
    runs++;
  }
  parentPort.postMessage({ first, runs, changed });
})();
`;

function reference(): Float32Array {
  manualSeed(1);
  const lstm = new LSTM({ inputSize: 8, hiddenSize: 16 });
  return Float32Array.from(noGrad(() => lstm.forward(randn([5, 3, 8]))[0]).data);
}

describe('worker_threads: terminated at random points (stress)', function () {
  this.timeout(60000);

  it('64 workers stopped during init, sync/async forwards and construction: the process and a running worker survive', async () => {
    const expected = reference();
    const control = new Worker(CONTROL_CODE, { eval: true, workerData: { lib: LIB } });
    const controlResult = new Promise<{ first: Float32Array; runs: number; changed: number }>((resolve, reject) => {
      control.once('message', resolve);
      control.on('error', reject);
    });
    const modes: Mode[] = ['init', 'sync', 'async', 'construct'];
    const outcomes: Outcome[] = [];
    for (let wave = 0; wave < 8; wave++) {
      // 8 at once; in odd waves one of each mode is stopped at a spread-out moment of its startup instead
      const stops = modes.flatMap((mode, i) => [
        stopAtRandom(mode, 'ready', Math.random() * 20),
        wave % 2 === 0 ? stopAtRandom(mode, 'ready', Math.random() * 5) : stopAtRandom(mode, 'spawn', 40 * i + Math.random() * 80),
      ]);
      outcomes.push(...(await Promise.all(stops)));
      // the main thread keeps working while environments come and go
      assert.deepEqual(reference(), expected, `the main thread's forward changed after wave ${wave}`);
    }
    control.postMessage('stop');
    const { first, runs, changed } = await controlResult;
    assert.ok(runs > 0, 'the control worker ran no forward');
    assert.equal(changed, 0, `${changed} of the control worker's ${runs} forwards differed from its first`);
    assert.deepEqual(first, expected, "the control worker's forward differs from the main thread's");
    assert.equal(outcomes.length, 64);
    for (const o of outcomes) {
      assert.deepEqual(o.errors, [], `a ${o.mode} worker reported an error`);
      // one stopped during its startup may exit with 0 (Node's code for a worker that had not started running)
      if (o.from === 'ready') assert.equal(o.exitCode, 1, `a running ${o.mode} worker was not stopped by terminate()`);
    }
  });
});
