// `npm run bench`: forward-pass timings of node-rnn's LSTM / GRU / RNN against ONNX Runtime
// (bench/onnx-peer.ts) with the same weights, the same input and the same number of threads; then training-step
// timings (forward + backward + SGD update) against TensorFlow.js on its wasm backend (bench/tfjs-peer.ts).
//
//   node dist/bench/bench.js [--threads N] [--warmup N] [--repeats N] [--tfjs-repeats N] [--only lstm[,gru]]
//                            [--no-train] [--interleave] [--json] [--keep-env]
//
// Timing: per shape, a block of warm-up runs then timed runs for node-rnn and one for ONNX Runtime, after a
// pause (see SETTLE_MS for why not run by run; --interleave alternates run by run instead); the median is
// reported.
//
// Before timing anything it checks node-rnn against PyTorch's own outputs (three reference cases from
// test/fixtures/torch), since the bench may run with another OpenBLAS kernel than the tests; and for every
// shape it checks that node-rnn and ONNX Runtime agree, so that both columns time the same computation.
//
// Training section: one step = forward, backward of loss = sum(output * g) for a fixed random g
// (autograd.backward([output], [g])), SGD (lr 0.01) on the module's parameters, zeroGrad; TensorFlow.js does the
// same step on a tf.layers RNN layer with the same weights (optimizer.minimize, loss read with dataSync). Before
// timing, the gradients of both are compared at the benchmarked shape (that first tfjs gradient computation is
// also its warm-up). A tfjs step takes seconds (its wasm MatMul with a transposed operand, which backward uses
// throughout, is 10-40x slower than the plain one), so tfjs gets its own, small repeat count.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AnyTensor, Module, Tensor } from '../lib/index';
import { forwardFlops, type FlopsCell } from './flops';
import { createOnnxPeer, loadOnnxRuntime, type OnnxPeer, type PeerSpec } from './onnx-peer';
import { createTfjsPeer, loadTfjs, type TfjsCell, type TfjsPeer, type TfjsRuntime } from './tfjs-peer';

// node-rnn is loaded only after the environment decision below (see reexecWithoutBlasEnv): OpenBLAS reads
// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when the library is loaded, so the parent process must not load it.
type NodeRnn = typeof import('../lib/index');
function loadNodeRnn(): NodeRnn {
  return require('../lib/index') as NodeRnn;
}

const BLAS_ENV = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;
const CHILD_MARKER = 'NODE_RNN_BENCH_REEXEC';
const REF_TOLERANCE = 1e-5;
const PEER_TOLERANCE = 1e-4;
/** Training section: learning rate of both sides' SGD, and the tolerance of the gradient comparison. */
const TRAIN_LR = 0.01;
const GRAD_TOLERANCE = 1e-4;
const SEED = 0;
/**
 * Pause before each block of runs (each run with --interleave). Both runtimes keep their worker threads
 * spinning for a while after a call (OpenBLAS up to ~2^28 cycles, ONNX Runtime's intra-op pool briefly);
 * with as many threads as cores, a run that starts while the other runtime still spins can take 10-20x
 * longer (measured: LSTM 100x1x256, ours 1.3 ms alone, 33 ms straight after an ORT run).
 */
const SETTLE_MS = 200;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

interface Options {
  threads: number;
  warmup: number;
  repeats: number;
  json: boolean;
  keepEnv: boolean;
  interleave: boolean;
  only: string[];
  train: boolean;
  tfjsRepeats: number;
}

const USAGE = `usage: node dist/bench/bench.js [options]
  --threads N   threads for node-rnn (setNumThreads) and ONNX Runtime (intraOpNumThreads), default 2
  --warmup N    untimed runs per shape and implementation, default 3
  --repeats N   timed runs per shape and implementation (the median is reported), default 10; also node-rnn's
                training steps
  --tfjs-repeats N
                timed TensorFlow.js training steps per shape (the median is reported), default 3 (one step
                takes seconds; the gradient check before them is its warm-up)
  --only LIST   only shapes whose name contains one of the comma-separated words, e.g. --only lstm,gru
                (applies to both sections)
  --no-train    skip the training-step section (node-rnn vs TensorFlow.js wasm)
  --interleave  alternate ours and ORT run by run (with a pause before each run) instead of one block of
                runs per implementation and shape (forward section only; training steps are timed in blocks)
  --json        print the results as JSON on stdout (the progress text goes to stderr)
  --keep-env    keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (otherwise the bench re-runs itself without them)`;

function usageError(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    threads: 2, warmup: 3, repeats: 10, json: false, keepEnv: false, interleave: false, only: [], train: true, tfjsRepeats: 3,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      if (i + 1 >= argv.length) usageError(`${name} needs a value`);
      return argv[++i];
    };
    const count = (min: number): number => {
      const text = value();
      const n = Number(text);
      if (!/^\d+$/.test(text) || n < min) usageError(`${name} expects an integer >= ${min}, got ${JSON.stringify(text)}`);
      return n;
    };
    switch (name) {
      case '--threads': opts.threads = count(1); break;
      case '--warmup': opts.warmup = count(0); break;
      case '--repeats': opts.repeats = count(1); break;
      case '--tfjs-repeats': opts.tfjsRepeats = count(1); break;
      case '--no-train': opts.train = false; break;
      case '--only': opts.only = value().split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== ''); break;
      case '--json': opts.json = true; break;
      case '--keep-env': opts.keepEnv = true; break;
      case '--interleave': opts.interleave = true; break;
      case '-h':
      case '--help': console.log(USAGE); process.exit(0);
      default: usageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return opts;
}

/**
 * Runs this same script again, without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, and exits with its status.
 * Returns (without re-running) when --keep-env is given, when neither variable is set, or in the child.
 */
function reexecWithoutBlasEnv(opts: Options): void {
  if (opts.keepEnv || process.env[CHILD_MARKER] === '1') return;
  if (!BLAS_ENV.some((k) => k in process.env)) return;
  const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_MARKER]: '1' };
  for (const k of BLAS_ENV) delete env[k];
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env, stdio: 'inherit' });
  if (child.error) {
    console.error(`bench: could not re-run without ${BLAS_ENV.join(' / ')}: ${child.error.message} (--keep-env skips this)`);
    process.exit(1);
  }
  if (child.signal) {
    console.error(`bench: the re-run was killed by ${child.signal}`);
    process.exit(1);
  }
  process.exit(child.status ?? 1);
}

function blasEnvNote(opts: Options): string {
  const set = BLAS_ENV.filter((k) => k in process.env).map((k) => `${k}=${process.env[k]}`);
  if (process.env[CHILD_MARKER] === '1') return `${BLAS_ENV.join(', ')} removed (re-executed)`;
  if (set.length > 0) return `kept ${set.join(' ')} (--keep-env)`;
  return `${BLAS_ENV.join(', ')} not set`;
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** ‖a − b‖ / ‖b‖ in float64 (absolute error when b is all zeros); Infinity on a length mismatch or NaN. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    const d = a[i] - b[i];
    diff += d * d;
    norm += b[i] * b[i];
  }
  if (Number.isNaN(diff)) return Infinity;
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------------------
// Reference check against PyTorch's outputs
// ---------------------------------------------------------------------------

interface FixtureConfig {
  module: string;
  input_size: number;
  hidden_size: number;
  num_layers?: number;
  bias: boolean;
  batch_first?: boolean;
  bidirectional?: boolean;
  dropout?: number;
  nonlinearity?: 'tanh' | 'relu';
  proj_size?: number;
  has_h0: boolean;
  packed?: boolean;
  batched?: boolean;
}

const FIXTURE_DIR = path.resolve(__dirname, '../../test/fixtures/torch');

function pickFixtures(lib: NodeRnn): string[] {
  const files = fs.readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.safetensors')).sort();
  const config = (file: string): FixtureConfig => JSON.parse(lib.readSafetensorsMetadata(path.join(FIXTURE_DIR, file)).config);
  const plain = (file: string): boolean => {
    const c = config(file);
    return c.packed === false && c.batched === true;
  };
  const picked = ['000-LSTM.safetensors'];
  if (!files.includes(picked[0])) throw new Error(`${picked[0]} is missing from ${FIXTURE_DIR}`);
  for (const tag of ['-GRU.', '-RNN.']) {
    const file = files.find((f) => f.includes(tag) && plain(f));
    if (file === undefined) throw new Error(`no unpacked, batched fixture named *${tag}* in ${FIXTURE_DIR}`);
    picked.push(file);
  }
  return picked;
}

/** Max relative error of output (and h_n, c_n) over the picked fixtures; throws past REF_TOLERANCE. */
function referenceCheck(lib: NodeRnn): { maxErr: number; cases: { file: string; err: number }[] } {
  const cases: { file: string; err: number }[] = [];
  for (const file of pickFixtures(lib)) {
    const full = path.join(FIXTURE_DIR, file);
    const c = JSON.parse(lib.readSafetensorsMetadata(full).config) as FixtureConfig;
    if (c.packed !== false || c.batched !== true) throw new Error(`${file}: expected packed false and batched true in its config`);
    const t = lib.loadSafetensors(full);
    const f32 = (name: string): Tensor => {
      const x = t[name];
      if (x === undefined || x.dtype !== 'float32') throw new Error(`${file}: no float32 tensor ${name}`);
      return x as Tensor;
    };
    const options = {
      inputSize: c.input_size,
      hiddenSize: c.hidden_size,
      numLayers: c.num_layers,
      bias: c.bias,
      batchFirst: c.batch_first,
      bidirectional: c.bidirectional,
      dropout: c.dropout,
    };
    const load = (m: Module): void => {
      m.eval();
      const params: Record<string, AnyTensor> = {};
      for (const [name] of m.namedParameters()) params[name] = t[name];
      m.loadStateDict(params);
    };
    let results: Record<string, Tensor>;
    if (c.module === 'LSTM') {
      const m = new lib.LSTM({ ...options, projSize: c.proj_size ?? 0 });
      load(m);
      const [out, [h, cell]] = m.forward(f32('input'), c.has_h0 ? [f32('h0'), f32('c0')] : undefined);
      results = { output: out, h_n: h, c_n: cell };
    } else if (c.module === 'GRU' || c.module === 'RNN') {
      const m = c.module === 'GRU' ? new lib.GRU(options) : new lib.RNN({ ...options, nonlinearity: c.nonlinearity });
      load(m);
      const [out, h] = m.forward(f32('input'), c.has_h0 ? f32('h0') : undefined);
      results = { output: out, h_n: h };
    } else {
      throw new Error(`${file}: unexpected module ${c.module}`);
    }
    let err = 0;
    for (const [key, ours] of Object.entries(results)) {
      const ref = t[key];
      if (ref === undefined) {
        if (key === 'output') throw new Error(`${file}: no reference output`);
        continue;
      }
      if (ours.shape.join() !== ref.shape.join()) throw new Error(`${file}: ${key} has shape [${ours.shape}], PyTorch [${ref.shape}]`);
      err = Math.max(err, relativeError(ours.data, (ref as Tensor).data));
    }
    cases.push({ file, err });
    if (!(err <= REF_TOLERANCE)) {
      throw new Error(`${file}: relative error ${err.toExponential(2)} > ${REF_TOLERANCE}`);
    }
  }
  return { maxErr: Math.max(...cases.map((x) => x.err)), cases };
}

// ---------------------------------------------------------------------------
// Shapes and timing
// ---------------------------------------------------------------------------

interface Shape {
  name: string;
  cell: FlopsCell;
  seqLen: number;
  batch: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
}

const shape = (cell: FlopsCell, label: string, T: number, B: number, H: number, numLayers = 1, bidirectional = false): Shape => ({
  name: `${label} ${T}x${B}x${H}`,
  cell,
  seqLen: T,
  batch: B,
  hiddenSize: H,
  numLayers,
  bidirectional,
});

const SHAPES: Shape[] = [
  shape('LSTM', 'LSTM', 100, 1, 256),
  shape('LSTM', 'LSTM', 100, 64, 256),
  shape('LSTM', 'LSTM', 100, 64, 512),
  shape('LSTM', 'LSTM', 50, 16, 1024),
  shape('GRU', 'GRU', 100, 64, 256),
  shape('RNN_TANH', 'RNN-tanh', 100, 64, 256),
  shape('LSTM', 'LSTM 2L bidir', 100, 64, 256, 2, true),
];

interface Result {
  shape: string;
  cell: FlopsCell;
  seqLen: number;
  batch: number;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  gflop: number;
  ours: { medianMs: number; gflops: number; timesMs: number[] };
  ort: { medianMs: number; gflops: number; timesMs: number[]; relErr: number; agrees: boolean } | null;
  /** ORT ms / ours ms: above 1 means node-rnn is faster. */
  ratio: number | null;
}

// Inference: no graph is recorded (parameters require grad, so a plain forward would save state for backward).
function buildModule(lib: NodeRnn, s: Shape): { forward(x: Tensor): Tensor; module: Module } {
  const options = { inputSize: s.hiddenSize, hiddenSize: s.hiddenSize, numLayers: s.numLayers, bidirectional: s.bidirectional };
  if (s.cell === 'LSTM') {
    const m = new lib.LSTM(options).eval();
    return { module: m, forward: (x) => lib.noGrad(() => m.forward(x)[0]) };
  }
  if (s.cell === 'GRU') {
    const m = new lib.GRU(options).eval();
    return { module: m, forward: (x) => lib.noGrad(() => m.forward(x)[0]) };
  }
  const m = new lib.RNN({ ...options, nonlinearity: s.cell === 'RNN_RELU' ? 'relu' : 'tanh' }).eval();
  return { module: m, forward: (x) => lib.noGrad(() => m.forward(x)[0]) };
}

async function benchShape(lib: NodeRnn, s: Shape, index: number, opts: Options, ortAvailable: boolean, log: (line: string) => void): Promise<Result> {
  const spec: PeerSpec = {
    cell: s.cell,
    seqLen: s.seqLen,
    batch: s.batch,
    inputSize: s.hiddenSize,
    hiddenSize: s.hiddenSize,
    numLayers: s.numLayers,
    bidirectional: s.bidirectional,
    threads: opts.threads,
  };
  const flops = forwardFlops(spec);

  lib.manualSeed(SEED);
  const { module, forward } = buildModule(lib, s);
  const input = lib.randn([s.seqLen, s.batch, s.hiddenSize]);
  const weights = Object.fromEntries(module.namedParameters().map(([k, v]) => [k, v.data]));

  let peer: OnnxPeer | null = null;
  let relErr = NaN;
  if (ortAvailable) {
    peer = await createOnnxPeer(spec, weights);
    const ours = forward(input).data;
    const theirs = await peer.run(input.data);
    relErr = relativeError(ours, theirs);
  }

  const timeOurs = async (): Promise<number> => {
    const t0 = performance.now();
    forward(input);
    return performance.now() - t0;
  };
  const timeOrt = async (): Promise<number> => {
    const t0 = performance.now();
    await peer!.run(input.data);
    return performance.now() - t0;
  };
  const oursMs: number[] = [];
  const ortMs: number[] = [];
  const sides: [() => Promise<number>, number[]][] = [[timeOurs, oursMs]];
  if (peer) sides.push([timeOrt, ortMs]);
  if (index % 2 === 1) sides.reverse(); // which one goes first alternates from shape to shape

  if (opts.interleave) {
    // Round by round, with a pause before every run so the other runtime's threads have gone idle.
    for (let round = 0; round < opts.warmup + opts.repeats; round++) {
      for (const [time, out] of round % 2 === 0 ? sides : [...sides].reverse()) {
        await sleep(SETTLE_MS);
        const ms = await time();
        if (round >= opts.warmup) out.push(ms);
      }
    }
  } else {
    // One block per implementation (warm-up, then the timed repeats back to back), after a pause.
    for (const [time, out] of sides) {
      await sleep(SETTLE_MS);
      for (let i = 0; i < opts.warmup; i++) await time();
      for (let i = 0; i < opts.repeats; i++) out.push(await time());
    }
  }
  if (peer) await peer.release();

  const gflop = flops / 1e9;
  const oursMedian = median(oursMs);
  const ortMedian = median(ortMs);
  const ort = peer
    ? { medianMs: ortMedian, gflops: gflop / (ortMedian / 1e3), timesMs: ortMs, relErr, agrees: relErr <= PEER_TOLERANCE }
    : null;
  const result: Result = {
    shape: s.name,
    cell: s.cell,
    seqLen: s.seqLen,
    batch: s.batch,
    inputSize: s.hiddenSize,
    hiddenSize: s.hiddenSize,
    numLayers: s.numLayers,
    bidirectional: s.bidirectional,
    gflop,
    ours: { medianMs: oursMedian, gflops: gflop / (oursMedian / 1e3), timesMs: oursMs },
    ort,
    ratio: ort ? ort.medianMs / oursMedian : null,
  };
  log(
    `  ${s.name}: ours ${oursMedian.toFixed(2)} ms` +
      (ort ? `, ORT ${ort.medianMs.toFixed(2)} ms, rel err ${relErr.toExponential(2)}${ort.agrees ? '' : ' (DISAGREE)'}` : ''),
  );
  return result;
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/** The first `cols` columns of a header row and data rows, aligned (first column left, the rest right). */
function aligned(table: string[][], cols: number): string {
  const all = table.map((row) => row.slice(0, cols));
  const widths = all[0].map((_, c) => Math.max(...all.map((row) => row[c].length)));
  const line = (row: string[]): string => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

function table(results: Result[], ortAvailable: boolean): string {
  const head = ['shape (TxBxH)', 'ours ms', 'ours GFLOP/s', 'ORT ms', 'ORT GFLOP/s', 'ratio', 'rel err'];
  const rows = results.map((r) => [
    r.shape,
    r.ours.medianMs.toFixed(2),
    r.ours.gflops.toFixed(1),
    r.ort ? r.ort.medianMs.toFixed(2) : '-',
    r.ort ? r.ort.gflops.toFixed(1) : '-',
    r.ratio !== null ? r.ratio.toFixed(2) : '-',
    r.ort ? r.ort.relErr.toExponential(1) + (r.ort.agrees ? '' : ' !') : '-',
  ]);
  return aligned([head, ...rows], ortAvailable ? head.length : 3);
}

// ---------------------------------------------------------------------------
// Training step: node-rnn vs TensorFlow.js (wasm backend)
// ---------------------------------------------------------------------------

const TRAIN_SHAPES: Shape[] = [shape('LSTM', 'LSTM', 100, 64, 256), shape('GRU', 'GRU', 100, 64, 256)];

interface TrainResult {
  shape: string;
  cell: TfjsCell;
  seqLen: number;
  batch: number;
  inputSize: number;
  hiddenSize: number;
  /** 3 x forward FLOPs (backward counted as twice the forward), in GFLOP. */
  gflop: number;
  ours: { medianMs: number; gflops: number; timesMs: number[] };
  tfjs: { medianMs: number; gflops: number; timesMs: number[]; gradRelErr: number; agrees: boolean } | null;
  /** tfjs ms / ours ms: above 1 means node-rnn is faster. */
  ratio: number | null;
}

const copyOf = (x: Float32Array): Float32Array => Float32Array.from(x);

async function benchTrainShape(lib: NodeRnn, s: Shape, index: number, opts: Options, tfjs: TfjsRuntime | null, log: (line: string) => void): Promise<TrainResult> {
  const cell = s.cell as TfjsCell;
  const spec = { cell, seqLen: s.seqLen, batch: s.batch, inputSize: s.hiddenSize, hiddenSize: s.hiddenSize };
  const gflop = (3 * forwardFlops({ ...spec, numLayers: 1, bidirectional: false })) / 1e9;

  lib.manualSeed(SEED);
  const options = { inputSize: spec.inputSize, hiddenSize: spec.hiddenSize };
  let module: Module;
  let forward: (x: Tensor) => Tensor;
  if (cell === 'LSTM') {
    const m = new lib.LSTM(options);
    [module, forward] = [m, (x) => m.forward(x)[0]];
  } else {
    const m = new lib.GRU(options);
    [module, forward] = [m, (x) => m.forward(x)[0]];
  }
  const input = lib.randn([s.seqLen, s.batch, spec.inputSize]);
  const g = lib.randn([s.seqLen, s.batch, spec.hiddenSize]);
  // copies: the SGD steps below update the parameters in place
  const weights = Object.fromEntries(module.namedParameters().map(([k, v]) => [k, copyOf(v.data as Float32Array)]));
  const optimizer = new lib.optim.SGD(module.parameters(), { lr: TRAIN_LR });

  const stepOurs = (): void => {
    lib.autograd.backward([forward(input)], [g]);
    optimizer.step();
    optimizer.zeroGrad();
  };

  // Reference gradients (before any update), then the same from tfjs at this shape: both sides must compute the
  // same step. The tfjs call is a full forward + backward, so it is tfjs's warm-up as well.
  let peer: TfjsPeer | null = null;
  let gradRelErr = NaN;
  if (tfjs) {
    peer = createTfjsPeer(tfjs, spec, weights, TRAIN_LR);
    peer.setBatch(input.data as Float32Array, g.data as Float32Array);
    lib.autograd.backward([forward(input)], [g]);
    const ours = Object.fromEntries(module.namedParameters().map(([k, v]) => [k, copyOf(v.grad!.data as Float32Array)]));
    optimizer.zeroGrad();
    const theirs = peer.gradients();
    gradRelErr = Math.max(...Object.keys(ours).map((k) => relativeError(theirs[k] ?? [], ours[k])));
  }

  const oursMs: number[] = [];
  const tfjsMs: number[] = [];
  const blocks: (() => Promise<void>)[] = [
    async () => {
      await sleep(SETTLE_MS);
      for (let i = 0; i < opts.warmup; i++) stepOurs();
      for (let i = 0; i < opts.repeats; i++) {
        const t0 = performance.now();
        stepOurs();
        oursMs.push(performance.now() - t0);
      }
    },
  ];
  if (peer) {
    blocks.push(async () => {
      await sleep(SETTLE_MS);
      for (let i = 0; i < opts.tfjsRepeats; i++) {
        const t0 = performance.now();
        peer!.trainStep(); // reads the loss with dataSync
        tfjsMs.push(performance.now() - t0);
      }
    });
  }
  if (index % 2 === 1) blocks.reverse();
  for (const block of blocks) await block();
  peer?.dispose();

  const oursMedian = median(oursMs);
  const tfjsMedian = median(tfjsMs);
  const tf = peer
    ? { medianMs: tfjsMedian, gflops: gflop / (tfjsMedian / 1e3), timesMs: tfjsMs, gradRelErr, agrees: gradRelErr <= GRAD_TOLERANCE }
    : null;
  log(
    `  ${s.name} training step: ours ${oursMedian.toFixed(1)} ms` +
      (tf ? `, tfjs ${tf.medianMs.toFixed(0)} ms, gradient rel err ${gradRelErr.toExponential(2)}${tf.agrees ? '' : ' (DISAGREE)'}` : ''),
  );
  return {
    shape: s.name,
    cell,
    seqLen: s.seqLen,
    batch: s.batch,
    inputSize: spec.inputSize,
    hiddenSize: spec.hiddenSize,
    gflop,
    ours: { medianMs: oursMedian, gflops: gflop / (oursMedian / 1e3), timesMs: oursMs },
    tfjs: tf,
    ratio: tf ? tf.medianMs / oursMedian : null,
  };
}

function trainTable(results: TrainResult[], tfjsAvailable: boolean): string {
  const head = ['training step (TxBxH)', 'ours ms', 'ours GFLOP/s', 'tfjs ms', 'tfjs GFLOP/s', 'ratio', 'grad rel err'];
  const rows = results.map((r) => [
    r.shape,
    r.ours.medianMs.toFixed(1),
    r.ours.gflops.toFixed(1),
    r.tfjs ? r.tfjs.medianMs.toFixed(0) : '-',
    r.tfjs ? r.tfjs.gflops.toFixed(2) : '-',
    r.ratio !== null ? r.ratio.toFixed(1) : '-',
    r.tfjs ? r.tfjs.gradRelErr.toExponential(1) + (r.tfjs.agrees ? '' : ' !') : '-',
  ]);
  return aligned([head, ...rows], tfjsAvailable ? head.length : 3);
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const pick = (list: Shape[]): Shape[] => (opts.only.length === 0 ? list : list.filter((s) => opts.only.some((w) => s.name.toLowerCase().includes(w))));
  const shapes = pick(SHAPES);
  const trainShapes = opts.train ? pick(TRAIN_SHAPES) : [];
  if (shapes.length === 0 && trainShapes.length === 0) {
    const names = [...new Set([...SHAPES, ...(opts.train ? TRAIN_SHAPES : [])].map((s) => s.name))];
    usageError(`--only ${opts.only.join(',')} matches no shape (${names.join('; ')})`);
  }
  reexecWithoutBlasEnv(opts);

  // With --json, stdout carries only the JSON document; everything else goes to stderr.
  const log = (line: string): void => {
    if (opts.json) console.error(line);
    else console.log(line);
  };

  const lib = loadNodeRnn();
  lib.setNumThreads(opts.threads);

  let ortVersion: string | null = null;
  let ortError: string | null = null;
  try {
    ortVersion = loadOnnxRuntime().env.versions.common ?? 'unknown';
  } catch (error) {
    ortError = (error as Error).message.split('\n')[0];
  }

  const blas = lib.blasInfo();
  const cpus = os.cpus();
  const header = {
    node: process.version,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    loadAverage: os.loadavg()[0],
    mode: opts.interleave ? 'interleave' : 'blocks',
    threads: lib.getNumThreads(),
    blas: blas.config,
    blasCore: blas.core,
    onnxruntime: ortVersion,
    env: blasEnvNote(opts),
  };
  log(
    `node ${header.node} | CPU ${header.cpu} x${header.cores} | threads ${header.threads} | ` +
      `${header.blas} (core ${header.blasCore}) | onnxruntime ${ortVersion ?? 'unavailable'} | env: ${header.env}`,
  );
  const mode = opts.interleave
    ? `ours and ORT alternate run by run, ${SETTLE_MS} ms pause before each run`
    : `per shape one block of runs for ours and one for ORT (order alternates by shape), ${SETTLE_MS} ms pause before each block`;
  log(`warm-up ${opts.warmup}, repeats ${opts.repeats} (median); ${mode}; seed ${SEED}, forward only, seq-first input, I = H`);
  if (header.loadAverage > 0.5) {
    log(`note: load average ${header.loadAverage.toFixed(2)} before the run; other processes may skew the timings`);
  }
  if (header.threads !== opts.threads) log(`note: asked for ${opts.threads} threads, OpenBLAS uses ${header.threads}`);

  let reference: ReturnType<typeof referenceCheck>;
  try {
    reference = referenceCheck(lib);
  } catch (error) {
    console.error(`reference check: FAILED: ${(error as Error).message}`);
    process.exit(1);
  }
  log(`reference check: ok (max rel err ${reference.maxErr.toExponential(2)}; ${reference.cases.map((c) => c.file.replace(/\.safetensors$/, '')).join(', ')})`);

  if (ortError !== null) {
    log(`NOTE: onnxruntime-node could not be loaded (${ortError}); only node-rnn's numbers are shown.`);
  }

  const results: Result[] = [];
  for (const [i, s] of shapes.entries()) results.push(await benchShape(lib, s, i, opts, ortVersion !== null, log));
  const disagreements = results.filter((r) => r.ort && !r.ort.agrees);

  if (!opts.json && results.length > 0) {
    log('');
    log(table(results, ortVersion !== null));
    log('');
    log(`ms: median of ${opts.repeats}; GFLOP/s counts 2*T*B*G*H*(I_layer+H) per layer and direction`);
    if (ortVersion !== null) log('ratio = ORT ms / ours ms (> 1: node-rnn faster); rel err = |ours - ORT| / |ORT| of the outputs');
    else log('ORT columns omitted: onnxruntime-node could not be loaded.');
  }

  // Training section (after the forward table; tfjs is loaded only here)
  let tfjs: TfjsRuntime | null = null;
  let tfjsInfo: Record<string, unknown> | null = null;
  const training: TrainResult[] = [];
  if (trainShapes.length > 0) {
    try {
      tfjs = await loadTfjs();
      tfjsInfo = { version: tfjs.version, backend: tfjs.backend, threads: tfjs.threads, simd: tfjs.simd, multithreadSupported: tfjs.multithreadSupported };
    } catch (error) {
      tfjsInfo = { error: (error as Error).message.split('\n')[0] };
    }
    log('');
    log(
      `training step = forward + backward of sum(output * g) + SGD (lr ${TRAIN_LR}) + zeroGrad; 1 layer, I = H; ` +
        `ours: ${lib.getNumThreads()} threads, warm-up ${opts.warmup}, median of ${opts.repeats}`,
    );
    if (tfjs) {
      log(
        `tfjs ${tfjs.version}, ${tfjs.backend} backend (${tfjs.simd ? 'SIMD' : 'no SIMD'}), ${tfjs.threads} thread` +
          `${tfjs.threads === 1 ? '' : 's'}${tfjs.multithreadSupported ? '' : ' (tfjs-backend-wasm has no multithreading under Node)'}; ` +
          `tf.layers LSTM / reset_after GRU cell in tf.layers.rnn, optimizer.minimize + dataSync; ` +
          `warm-up 1 (the gradient check), median of ${opts.tfjsRepeats}`,
      );
    } else {
      log(`NOTE: TensorFlow.js with the wasm backend could not be loaded (${String(tfjsInfo?.error)}); only node-rnn's training steps are timed.`);
    }
    for (const [i, s] of trainShapes.entries()) training.push(await benchTrainShape(lib, s, i, opts, tfjs, log));
    if (!opts.json) {
      log('');
      log(trainTable(training, tfjs !== null));
      log('');
      log(`ms: median; GFLOP/s counts 3x the forward FLOPs (backward = 2x forward)${tfjs ? '; ratio = tfjs ms / ours ms (> 1: node-rnn faster)' : ''}`);
      if (tfjs) log('grad rel err = max over the parameters of |tfjs - ours| / |ours| of the gradients, before any update');
    }
  }
  if (opts.train && trainShapes.length === 0) {
    log(`\ntraining section: --only ${opts.only.join(',')} matches none of ${TRAIN_SHAPES.map((s) => s.name).join('; ')}`);
  }
  const gradDisagreements = training.filter((r) => r.tfjs && !r.tfjs.agrees);

  if (opts.json) {
    const trainJson = opts.train
      ? { tfjs: tfjsInfo, threads: lib.getNumThreads(), warmup: opts.warmup, repeats: opts.repeats, tfjsRepeats: opts.tfjsRepeats, lr: TRAIN_LR, results: training }
      : null;
    console.log(JSON.stringify({ ...header, warmup: opts.warmup, repeats: opts.repeats, reference, results, training: trainJson }, null, 2));
  }
  if (disagreements.length > 0) {
    console.error(`node-rnn and ONNX Runtime disagree (relative error > ${PEER_TOLERANCE}) on: ${disagreements.map((r) => r.shape).join(', ')}`);
    process.exitCode = 1;
  }
  if (gradDisagreements.length > 0) {
    console.error(`node-rnn and TensorFlow.js gradients disagree (relative error > ${GRAD_TOLERANCE}) on: ${gradDisagreements.map((r) => r.shape).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
