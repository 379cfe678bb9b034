// CUDA forward timings of node-rnn's LSTM / GRU / RNN on the shapes of bench/gpu-shapes.json (the forward
// float32 shapes of the PyTorch cuDNN baseline); bench/torch_peer.py times PyTorch on the same list, and
// scripts/gpu-check.sh joins the two JSON files into one table.
//
//   node dist/bench/gpu-bench.js [--json FILE] [--quick] [--no-tf32] [--shapes FILE] [--target-ms N] [--warmup N] [--min-repeats N]
//
// Every shape runs with setFloat32MatmulPrecision('highest') (plain float32); the shapes whose mode is listed in
// the file's tf32Modes (LSTM) run again with 'high' (TF32). Per shape: `warmup` untimed forwards, one timed probe
// forward, then R forwards with R = ceil(target / probe) (at least min-repeats), timed with process.hrtime around
// the loop, which ends with cuda.synchronize(); the mean per forward is reported. Every forward's outputs are
// disposed inside the loop (their device memory is freed there), so that memory does not pile up.
//
// Uses the public API only: require('../lib/index').

import * as fs from 'node:fs';
import * as path from 'node:path';

// ---------------------------------------------------------------------------
// The part of the public API used here, typed locally (the CUDA API is new; this keeps the bench independent of
// the exact declarations while they settle).
// ---------------------------------------------------------------------------

interface BenchTensor {
  readonly device?: string;
  readonly shape?: readonly number[];
  to(device: string): BenchTensor;
  dispose(): void;
}

interface BenchModule {
  to(device: string): unknown;
  eval?(): unknown;
  forward(input: BenchTensor): unknown;
  parameters(): BenchTensor[];
}

interface ModuleOptions {
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  nonlinearity?: 'tanh' | 'relu';
}

interface NodeRnnApi {
  cuda?: {
    isAvailable(): boolean;
    deviceCount?(): number;
    deviceName?(index?: number): string;
    synchronize(index?: number): void;
  };
  setFloat32MatmulPrecision?(precision: 'highest' | 'high'): void;
  getFloat32MatmulPrecision?(): string;
  manualSeed?(seed: number): void;
  randn(shape: number[]): BenchTensor;
  LSTM: new (options: ModuleOptions) => BenchModule;
  GRU: new (options: ModuleOptions) => BenchModule;
  RNN: new (options: ModuleOptions) => BenchModule;
}

type Mode = 'LSTM' | 'GRU' | 'RNN';

interface Shape {
  mode: Mode;
  T: number;
  B: number;
  I: number;
  H: number;
  L: number;
  D: number;
  quick?: boolean;
}

interface ShapeFile {
  tf32Modes: Mode[];
  shapes: Shape[];
}

interface BenchRecord {
  kind: 'ours-forward';
  dtype: 'float32';
  tf32: boolean;
  precision: 'highest' | 'high';
  mode: Mode;
  T: number;
  B: number;
  I: number;
  H: number;
  L: number;
  D: number;
  ms: number | null;
  per_step_us: number | null;
  repeats: number;
  error?: string;
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

interface Options {
  json: string | null;
  quick: boolean;
  tf32: boolean;
  shapes: string;
  targetMs: number;
  warmup: number;
  minRepeats: number;
  maxRepeats: number;
}

const USAGE = `usage: node dist/bench/gpu-bench.js [options]
  --json FILE        also write the results as JSON to FILE (rewritten after every shape)
  --quick            only the shapes marked quick in the shape file
  --no-tf32          skip the TF32 ('high' precision) pass
  --shapes FILE      shape list, default bench/gpu-shapes.json
  --target-ms N      timed time per shape, default 300 (repeats = ceil(N / probe), at least --min-repeats)
  --warmup N         untimed forwards per shape, default 3
  --min-repeats N    default 5`;

function usageError(message: string): never {
  console.error(`gpu-bench: ${message}\n${USAGE}`);
  process.exit(2);
}

function defaultShapeFile(): string {
  // dist/bench/gpu-bench.js -> bench/gpu-shapes.json; fall back to the working directory
  const candidates = [path.resolve(__dirname, '..', '..', 'bench', 'gpu-shapes.json'), path.resolve('bench', 'gpu-shapes.json')];
  return candidates.find((f) => fs.existsSync(f)) ?? candidates[0];
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    json: null,
    quick: false,
    tf32: true,
    shapes: defaultShapeFile(),
    targetMs: 300,
    warmup: 3,
    minRepeats: 5,
    maxRepeats: 10000,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usageError(`${arg} needs a value`);
      return v;
    };
    const count = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) usageError(`${arg} needs an integer >= ${min}, got ${v}`);
      return n;
    };
    switch (arg) {
      case '--json':
        opts.json = value();
        break;
      case '--quick':
        opts.quick = true;
        break;
      case '--no-tf32':
        opts.tf32 = false;
        break;
      case '--shapes':
        opts.shapes = value();
        break;
      case '--target-ms':
        opts.targetMs = count(1);
        break;
      case '--warmup':
        opts.warmup = count(0);
        break;
      case '--min-repeats':
        opts.minRepeats = count(1);
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
      default:
        usageError(`unknown argument ${arg}`);
    }
  }
  return opts;
}

function loadShapes(file: string, quick: boolean): ShapeFile {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ShapeFile>;
  if (!Array.isArray(raw.shapes)) throw new Error(`${file}: no "shapes" list`);
  const shapes = raw.shapes.filter((s) => !quick || s.quick === true);
  for (const s of shapes) {
    if (!['LSTM', 'GRU', 'RNN'].includes(s.mode)) throw new Error(`${file}: unknown mode ${JSON.stringify(s.mode)}`);
    for (const k of ['T', 'B', 'I', 'H', 'L', 'D'] as const) {
      if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`${file}: ${k} of ${JSON.stringify(s)} is not a positive integer`);
    }
    if (s.D !== 1 && s.D !== 2) throw new Error(`${file}: D must be 1 or 2 in ${JSON.stringify(s)}`);
  }
  return { tf32Modes: Array.isArray(raw.tf32Modes) ? raw.tf32Modes : ['LSTM'], shapes };
}

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------

function shapeLabel(s: Shape): string {
  return `${s.mode.padEnd(4)} T${s.T} B${s.B} I${s.I} H${s.H}${s.L > 1 ? ` L${s.L}` : ''}${s.D === 2 ? ' bi' : ''}`;
}

/** Disposes every tensor in a forward result (`[out, h]`, `[out, [h, c]]`). */
function disposeAll(value: unknown): void {
  if (Array.isArray(value)) {
    for (const v of value) disposeAll(v);
  } else if (value !== null && typeof value === 'object' && typeof (value as BenchTensor).dispose === 'function') {
    (value as BenchTensor).dispose();
  }
}

/** The first tensor of a forward result (the output), to check where it lives. */
function firstTensor(value: unknown): BenchTensor | undefined {
  if (Array.isArray(value)) return value.length > 0 ? firstTensor(value[0]) : undefined;
  if (value !== null && typeof value === 'object' && typeof (value as BenchTensor).dispose === 'function') return value as BenchTensor;
  return undefined;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function createModule(api: NodeRnnApi, s: Shape): BenchModule {
  const options: ModuleOptions = { inputSize: s.I, hiddenSize: s.H, numLayers: s.L, bidirectional: s.D === 2 };
  switch (s.mode) {
    case 'LSTM':
      return new api.LSTM(options);
    case 'GRU':
      return new api.GRU(options);
    case 'RNN':
      return new api.RNN({ ...options, nonlinearity: 'tanh' });
  }
}

function timeShape(api: NodeRnnApi, cuda: NonNullable<NodeRnnApi['cuda']>, s: Shape, opts: Options): { ms: number; repeats: number } {
  const module = createModule(api, s);
  module.to('cuda');
  module.eval?.();
  const cpuInput = api.randn([s.T, s.B, s.I]);
  const input = cpuInput.to('cuda');
  if (input !== cpuInput) cpuInput.dispose();
  try {
    const first = module.forward(input);
    const out = firstTensor(first);
    const device = out?.device;
    disposeAll(first);
    if (typeof device === 'string' && !device.startsWith('cuda')) {
      throw new Error(`the output is on ${device}, not on CUDA: the forward did not run on the GPU`);
    }
    for (let i = 1; i < opts.warmup; i++) disposeAll(module.forward(input));
    cuda.synchronize();

    let t0 = nowMs();
    disposeAll(module.forward(input));
    cuda.synchronize();
    const probe = Math.max(nowMs() - t0, 1e-3);
    const repeats = Math.min(opts.maxRepeats, Math.max(opts.minRepeats, Math.ceil(opts.targetMs / probe)));

    t0 = nowMs();
    for (let i = 0; i < repeats; i++) disposeAll(module.forward(input));
    cuda.synchronize();
    const ms = (nowMs() - t0) / repeats;
    return { ms, repeats };
  } finally {
    input.dispose();
    for (const p of module.parameters()) p.dispose();
  }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

function fail(message: string): never {
  console.error(`gpu-bench: ${message}`);
  process.exit(1);
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  let shapeFile: ShapeFile;
  try {
    shapeFile = loadShapes(opts.shapes, opts.quick);
  } catch (e) {
    fail(`cannot read the shape list: ${(e as Error).message}`);
  }

  let api: NodeRnnApi;
  try {
    api = require('../lib/index') as NodeRnnApi;
  } catch (e) {
    fail(`cannot load node-rnn: ${(e as Error).message}`);
  }
  const cuda = api.cuda;
  if (cuda === undefined || typeof cuda.isAvailable !== 'function') fail('node-rnn exports no cuda object (is dist/ older than the CUDA API?)');
  if (!cuda.isAvailable()) {
    // synchronize() throws the reason (built without CUDA, no driver, no device)
    let reason = 'no reason given';
    try {
      cuda.synchronize(0);
    } catch (e) {
      reason = (e as Error).message;
    }
    fail(`cuda.isAvailable() is false: ${reason}`);
  }
  if (typeof api.setFloat32MatmulPrecision !== 'function') fail('node-rnn exports no setFloat32MatmulPrecision');
  api.manualSeed?.(0);

  const deviceName = typeof cuda.deviceName === 'function' ? cuda.deviceName(0) : 'CUDA device 0';
  const meta = {
    tool: 'node-rnn',
    device: deviceName,
    node: process.version,
    targetMs: opts.targetMs,
    warmup: opts.warmup,
    minRepeats: opts.minRepeats,
    quick: opts.quick,
    timing: 'process.hrtime around R forwards ending with cuda.synchronize(); outputs disposed inside the loop',
  };
  const records: BenchRecord[] = [];
  const save = (): void => {
    if (opts.json !== null) fs.writeFileSync(opts.json, JSON.stringify({ meta, records }, null, 1) + '\n');
  };
  save();

  console.log(`node-rnn CUDA forward on ${deviceName} (node ${process.version}); mean ms per forward, ~${opts.targetMs} ms timed per shape`);
  console.log(`${'shape'.padEnd(32)} ${'precision'.padEnd(9)} ${'ms'.padStart(10)} ${'us/step'.padStart(9)} ${'repeats'.padStart(7)}`);

  const passes: { tf32: boolean; precision: 'highest' | 'high'; shapes: Shape[] }[] = [
    { tf32: false, precision: 'highest', shapes: shapeFile.shapes },
  ];
  if (opts.tf32) {
    passes.push({ tf32: true, precision: 'high', shapes: shapeFile.shapes.filter((s) => shapeFile.tf32Modes.includes(s.mode)) });
  }

  let errors = 0;
  for (const pass of passes) {
    api.setFloat32MatmulPrecision(pass.precision);
    for (const s of pass.shapes) {
      const base = { kind: 'ours-forward' as const, dtype: 'float32' as const, tf32: pass.tf32, precision: pass.precision, mode: s.mode, T: s.T, B: s.B, I: s.I, H: s.H, L: s.L, D: s.D };
      let record: BenchRecord;
      try {
        const { ms, repeats } = timeShape(api, cuda, s, opts);
        // per (layer, direction) step, like the baseline's per_step_us
        record = { ...base, ms, per_step_us: (ms * 1000) / (s.T * s.L * s.D), repeats };
        console.log(`${shapeLabel(s).padEnd(32)} ${pass.precision.padEnd(9)} ${ms.toFixed(3).padStart(10)} ${record.per_step_us!.toFixed(2).padStart(9)} ${String(repeats).padStart(7)}`);
      } catch (e) {
        errors++;
        const message = (e as Error)?.message ?? String(e);
        record = { ...base, ms: null, per_step_us: null, repeats: 0, error: message };
        console.log(`${shapeLabel(s).padEnd(32)} ${pass.precision.padEnd(9)} FAILED: ${message.split('\n')[0]}`);
        try {
          cuda.synchronize(); // surfaces a sticky CUDA error now rather than in the next shape
        } catch (e2) {
          console.log(`  (cuda.synchronize() after the failure: ${(e2 as Error).message})`);
        }
      }
      records.push(record);
      save();
    }
  }
  api.setFloat32MatmulPrecision('highest');
  if (opts.json !== null) console.log(`wrote ${records.length} records to ${opts.json}`);
  if (errors > 0) {
    console.error(`gpu-bench: ${errors} shape(s) failed`);
    process.exitCode = 1;
  }
}

main();
