// The command line of `node-rnn bench`: flags to options, and the list of cases they select. Every mistake is a
// UsageError whose message names the flag and what it expects, so the CLI can print it above the usage text.

import * as os from 'node:os';
import {
  caseKey, DEVICE_PRECISIONS, INFERENCE_ONLY, MODES, parseShapeText, PASSES, PRECISION_ALIASES, PRECISIONS, SHAPE_TEXT_HELP,
  type BenchCase, type Mode, type Pass, type Precision, type Shape,
} from './cases';
import { isPresetName, PRESET_NAMES, presetCases } from './presets';

export const PEER_NAMES = ['onnxruntime', 'tfjs', 'torch'] as const;
export type PeerName = (typeof PEER_NAMES)[number];
export type BenchDevice = 'cpu' | `cuda:${number}`;
export type PlotMetric = 'gflops' | 'ms';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Options {
  device: BenchDevice;
  cases: BenchCase[];
  /** what --shapes said (a preset name or the shape list), for the report */
  shapes: string;
  /** lines for the report's header about how the flags were applied (e.g. combinations left out) */
  notes: string[];
  threads: number;
  warmup: number;
  repeats: number;
  tfjsRepeats: number;
  compare: PeerName[];
  json: boolean;
  plot: string | null;
  plotMetric: PlotMetric;
  /** side of the square GEMM that measures the ceiling; 0 skips it; null = the device's default */
  ceilingSize: number | null;
  interleave: boolean;
  keepEnv: boolean;
  help: boolean;
}

export const USAGE = `usage: node-rnn bench [options]          (also: npm run bench -- [options])

What to time
  --device D        cpu (default), cuda or cuda:N
  --shapes LIST     comma-separated ${SHAPE_TEXT_HELP.replace(': ', ' (')}), or a preset:
                      cpu-default       8 forward shapes and 2 training steps (the default on the CPU)
                      torch-h100        the float32 shapes of the PyTorch H100 baseline, forward and training,
                                        LSTM again in TF32 (the default on CUDA; bench/gpu-shapes.json)
                      torch-h100-quick  a few of those
  --mode LIST       lstm, gru, rnn_tanh, rnn_relu (default lstm; with a preset: keep only these modes)
  --layers N        stacked layers (default 1)
  --bidirectional   two directions
  --proj P          LSTM projection size (proj_size), 0 for none
  --pass LIST       forward, backward, train (default forward; with a preset: its own). backward times the
                    backward alone (after an untimed forward); train = forward + backward + SGD step + zeroGrad
  --precision LIST  the arithmetic, one row per precision (default float32):
                      CPU:  float32, bfloat16 (module.bfloat16()), int8 (quantizeDynamic: int8 weights),
                            prepacked (float32 through optimizeForInference: weights packed once),
                            prepacked-bf16 (optimizeForInference with dtype bfloat16)
                      CUDA: float32, tf32 (TF32 matmuls), bfloat16, float16
                    (also: highest = float32, high = tf32, bf16, fp16); all but float32 and tf32
                    time forward passes only; reduced precisions add accuracy columns against node-rnn float32
  --dtype LIST      the same as --precision
  (--layers, --bidirectional, --proj, --pass and --precision given with a preset override its values)

How
  --threads N       CPU threads for node-rnn, ONNX Runtime and PyTorch (default: the number of cores)
  --warmup N        untimed runs per case and implementation (default 3); with N > 0 a block's warm-up
                    also lasts at least 100 ms (up to 1000 runs), so that V8 has optimised short calls
  --repeats N       timed runs per case and implementation; the median is reported (default 10)
  --tfjs-repeats N  timed TensorFlow.js training steps (default 3; one takes seconds)
  --ceiling-size N  side of the square GEMM that measures the device's ceiling (default 1024 CPU, 8192 CUDA;
                    0 skips it)
  --interleave      alternate node-rnn and in-process peers run by run instead of in blocks

Compared with
  --compare LIST    onnxruntime (CPU forward: its float32 model on float32 rows, its own int8 model, com.microsoft
                    DynamicQuantizeLSTM, on LSTM int8 rows), tfjs (CPU training step of 1-layer LSTM/GRU), torch
                    (python3 with PyTorch, float32/tf32 cases, CPU or CUDA), or none. Default: onnxruntime,tfjs on
                    the CPU, torch on CUDA; a peer that is not installed is skipped with the reason

Output
  --json            the results as JSON on stdout (progress and tables go to stderr)
  --plot FILE.svg   a bar chart of the results (one group per case, one bar per implementation)
  --plot-metric M   gflops (default) or ms
  --keep-env        keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (otherwise the bench re-runs itself without them)
  -h, --help        this text`;

function list(flag: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`${flag} expects a comma-separated list, got ${JSON.stringify(text)}`);
  return items;
}

function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[], aliases: Record<string, T> = {}): T {
  const t = text.toLowerCase();
  if (t in aliases) return aliases[t];
  const found = allowed.find((a) => a.toLowerCase() === t);
  if (found === undefined) {
    throw new UsageError(`${flag} expects one of ${allowed.map((a) => a.toLowerCase()).join(', ')}, got ${JSON.stringify(text)}`);
  }
  return found;
}

function parseDevice(text: string): BenchDevice {
  if (text === 'cpu') return 'cpu';
  if (text === 'cuda') return 'cuda:0';
  const m = /^cuda:(\d+)$/.exec(text);
  if (m === null) throw new UsageError(`--device expects cpu, cuda or cuda:N, got ${JSON.stringify(text)}`);
  return `cuda:${Number(m[1])}`;
}

/** Why `device` cannot run precision `p`, or null when it can. */
function precisionRefusal(p: Precision, device: BenchDevice): string | null {
  const cpu = device === 'cpu';
  if ((DEVICE_PRECISIONS[cpu ? 'cpu' : 'cuda'] as readonly Precision[]).includes(p)) return null;
  const there = cpu ? `on the CPU: ${DEVICE_PRECISIONS.cpu.join(', ')}` : `on CUDA: ${DEVICE_PRECISIONS.cuda.join(', ')}`;
  if (p === 'tf32') return `--precision tf32 (TF32 matmuls) applies to CUDA only (use --device cuda); ${there}`;
  if (p === 'float16') return `--precision float16 runs on CUDA only (node-rnn's CPU half kernels are bfloat16); ${there}`;
  const builder = p === 'int8' ? 'quantizeDynamic' : 'optimizeForInference';
  return `--precision ${p} runs on the CPU only (${builder} builds a CPU module); ${there}`;
}

/** Parses the flags after `bench`; throws UsageError. */
export function parseArgs(argv: readonly string[]): Options {
  const raw: {
    device: BenchDevice; shapes: string | null; modes: Mode[] | null; layers: number | null; bidirectional: boolean; proj: number | null;
    passes: Pass[] | null; precisions: Precision[] | null; precisionFlag: string | null; compare: PeerName[] | null;
  } = {
    device: 'cpu', shapes: null, modes: null, layers: null, bidirectional: false, proj: null, passes: null, precisions: null, precisionFlag: null,
    compare: null,
  };
  const opts: Omit<Options, 'device' | 'cases' | 'shapes' | 'notes' | 'compare'> = {
    threads: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    warmup: 3, repeats: 10, tfjsRepeats: 3, json: false, plot: null, plotMetric: 'gflops', ceilingSize: null,
    interleave: false, keepEnv: false, help: false,
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return argv[++i];
    };
    const count = (min: number): number => {
      const text = value();
      if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
        throw new UsageError(`${flag} expects an integer >= ${min}, got ${JSON.stringify(text)}`);
      }
      return Number(text);
    };
    const noValue = (): void => {
      if (eq >= 0) throw new UsageError(`${flag} takes no value, got ${JSON.stringify(arg)}`);
    };
    switch (flag) {
      case '--device': raw.device = parseDevice(value()); break;
      case '--shapes': raw.shapes = value(); break;
      case '--mode':
        raw.modes = list(flag, value()).map((m) => oneOf(flag, m, MODES, { rnn: 'RNN_TANH', 'rnn-tanh': 'RNN_TANH', 'rnn-relu': 'RNN_RELU' }));
        break;
      case '--layers': raw.layers = count(1); break;
      case '--bidirectional': noValue(); raw.bidirectional = true; break;
      case '--proj': raw.proj = count(0); break;
      case '--pass': raw.passes = list(flag, value()).map((p) => oneOf(flag, p, PASSES)); break;
      case '--dtype':
      case '--precision':
        if (raw.precisionFlag !== null && raw.precisionFlag !== flag) throw new UsageError('--dtype is another name for --precision: give one of them');
        raw.precisionFlag = flag;
        raw.precisions = list(flag, value()).map((p) => oneOf(flag, p, PRECISIONS, PRECISION_ALIASES));
        break;
      case '--threads': opts.threads = count(1); break;
      case '--warmup': opts.warmup = count(0); break;
      case '--repeats': opts.repeats = count(1); break;
      case '--tfjs-repeats': opts.tfjsRepeats = count(1); break;
      case '--ceiling-size': opts.ceilingSize = count(0); break;
      case '--compare': {
        const names = list(flag, value()).map((s) => s.toLowerCase());
        if (names.length === 1 && names[0] === 'none') raw.compare = [];
        else raw.compare = names.map((n) => oneOf(flag, n, PEER_NAMES, { ort: 'onnxruntime', pytorch: 'torch' }));
        break;
      }
      case '--json': noValue(); opts.json = true; break;
      case '--plot': {
        const file = value();
        if (file.trim() === '') throw new UsageError('--plot expects a file name, e.g. --plot bench.svg');
        opts.plot = file;
        break;
      }
      case '--plot-metric': opts.plotMetric = oneOf(flag, value(), ['gflops', 'ms'] as const); break;
      case '--interleave': noValue(); opts.interleave = true; break;
      case '--keep-env': noValue(); opts.keepEnv = true; break;
      case '-h':
      case '--help': opts.help = true; break;
      default:
        throw new UsageError(arg.startsWith('-') ? `unknown flag ${JSON.stringify(flag)}` : `unexpected argument ${JSON.stringify(arg)}`);
    }
  }

  const device = raw.device;
  const shapes = raw.shapes ?? (device === 'cpu' ? 'cpu-default' : 'torch-h100');
  for (const p of raw.precisions ?? []) {
    const refusal = precisionRefusal(p, device);
    if (refusal !== null) throw new UsageError(refusal);
  }
  const { cases, notes } = inferenceOnly(selectCases(shapes, raw), raw.precisionFlag ?? '--precision');
  const compare = [...new Set(raw.compare ?? (device === 'cpu' ? (['onnxruntime', 'tfjs'] as PeerName[]) : (['torch'] as PeerName[])))];
  return { ...opts, device, cases, shapes, notes, compare };
}

/**
 * Leaves out the backward and training cases of the inference-only precisions (a preset's training rows crossed
 * with --precision int8, say), with a note; refuses a selection that leaves nothing.
 */
function inferenceOnly(all: BenchCase[], flag: string): { cases: BenchCase[]; notes: string[] } {
  const trains = (c: BenchCase): boolean => c.pass !== 'forward' && INFERENCE_ONLY.includes(c.precision);
  const left = all.filter((c) => trains(c));
  const cases = all.filter((c) => !trains(c));
  const which = [...new Set(left.map((c) => c.precision))].join(', ');
  if (cases.length === 0) {
    throw new UsageError(`${flag} ${which} times forward passes only (node-rnn's half and int8 modules are for inference): add forward to --pass`);
  }
  const notes = left.length === 0 ? [] : [`${left.length} backward/training case(s) in ${which} left out: those precisions time forward passes only`];
  return { cases, notes };
}

function selectCases(
  shapesText: string,
  raw: { modes: Mode[] | null; layers: number | null; bidirectional: boolean; proj: number | null; passes: Pass[] | null; precisions: Precision[] | null },
): BenchCase[] {
  const override = (s: Shape): Shape => ({
    ...s,
    L: raw.layers ?? s.L,
    D: raw.bidirectional ? 2 : s.D,
    P: raw.proj ?? s.P,
  });
  let cases: BenchCase[] = [];
  if (isPresetName(shapesText.trim())) {
    let base = presetCases(shapesText.trim() as (typeof PRESET_NAMES)[number]);
    if (raw.modes !== null) base = base.filter((c) => raw.modes!.includes(c.mode));
    for (const c of base) {
      for (const pass of raw.passes ?? [c.pass]) {
        for (const precision of raw.precisions ?? [c.precision]) cases.push({ mode: c.mode, shape: override(c.shape), pass, precision });
      }
    }
    if (cases.length === 0) throw new UsageError(`--mode ${raw.modes!.join(',').toLowerCase()} selects no case of the preset ${shapesText.trim()}`);
  } else {
    const items = list('--shapes', shapesText);
    const parsed = items.map((text) => {
      try {
        return parseShapeText(text);
      } catch {
        throw new UsageError(`--shapes: ${JSON.stringify(text)} is neither a shape (${SHAPE_TEXT_HELP}) nor a preset (${PRESET_NAMES.join(', ')})`);
      }
    });
    for (const s of parsed) {
      for (const mode of raw.modes ?? ['LSTM']) {
        for (const pass of raw.passes ?? ['forward']) {
          for (const precision of raw.precisions ?? ['float32']) {
            cases.push({ mode, shape: override({ ...s, L: 1, D: 1, P: 0 }), pass, precision });
          }
        }
      }
    }
  }
  for (const c of cases) {
    if (c.shape.P > 0 && c.mode !== 'LSTM') throw new UsageError(`--proj applies to LSTM only (PyTorch's proj_size), not to ${c.mode.toLowerCase()}`);
    if (c.shape.P >= c.shape.H) throw new UsageError(`--proj ${c.shape.P} must be smaller than the hidden size (H = ${c.shape.H})`);
  }
  const seen = new Set<string>();
  cases = cases.filter((c) => !seen.has(caseKey(c)) && (seen.add(caseKey(c)), true));
  return cases;
}
