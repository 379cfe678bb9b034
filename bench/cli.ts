// `node-rnn bench [options]` (bin/node-rnn.js, `npm run bench -- [options]`): times node-rnn's recurrent layers
// on the CPU or a CUDA device next to ONNX Runtime, TensorFlow.js and PyTorch where they are installed, and
// prints a table (ms, GFLOP/s, % of a GEMM ceiling measured on the same device, peer ms and ratio), optionally
// JSON and an SVG chart. `--help` lists the options (bench/args.ts).
//
// Order of work: parse the flags; re-run without OPENBLAS_* overrides (bench/blas-env.ts); load node-rnn; the
// header; the GEMM ceiling; node-rnn against PyTorch's reference outputs; the cases (bench/run.ts); the table.
// Exit status: 2 for a usage error, 1 when node-rnn failed a case or disagreed with a peer, else 0.

import * as fs from 'node:fs';
import { parseArgs, USAGE, UsageError, type Options, type PeerName } from './args';
import { reexecWithoutBlasEnv } from './blas-env';
import { cpuCeiling, cudaCeiling, DEFAULT_CEILING_SIZE, hasCeiling, type Ceiling, type CeilingPrecision } from './ceiling';
import { collectEnvironment, environmentLines } from './environment';
import type { NodeRnn } from './ours';
import { loadOnnxPeer, ORT_INT8_DESCRIPTION } from './peer-onnx';
import { loadTfjsPeer } from './peer-tfjs';
import { describeTorch, probeTorch } from './peer-torch';
import { firstLine } from './peers';
import { renderBarChart, resultsChart } from './plot-svg';
import { referenceCheck } from './reference-check';
import { runCases, SEED, type PeerSet } from './run';
import { resultNotes, resultsTable, tableLayout } from './table';

const COMMANDS = ['bench'];

async function loadPeers(opts: Options): Promise<{ peers: PeerSet; lines: string[]; versions: Record<string, unknown> }> {
  const peers: PeerSet = {};
  const lines: string[] = [];
  const versions: Record<string, unknown> = {};
  for (const name of opts.compare) {
    let loaded: NonNullable<PeerSet[PeerName]>;
    if (name === 'onnxruntime' || name === 'tfjs') {
      // only when some case can use it: loading tfjs takes seconds
      const p = name === 'onnxruntime' ? loadOnnxPeer(opts.threads) : await loadTfjsPeer();
      if (typeof p === 'string') loaded = { unavailable: p };
      else {
        const usable = opts.cases.some((c) => p.unsupported(c, opts.device) === null);
        loaded = usable ? { inProcess: p } : { unavailable: p.unsupported(opts.cases[0], opts.device)! };
        versions[name] = p.version;
        if (usable) lines.push(p.describe);
        if (usable && name === 'onnxruntime' && opts.cases.some((c) => c.precision === 'int8' && p.unsupported(c, opts.device) === null)) {
          lines.push(ORT_INT8_DESCRIPTION);
        }
      }
    } else {
      const info = probeTorch(opts.device);
      if (typeof info === 'string') loaded = { unavailable: info };
      else {
        loaded = { torch: true };
        versions.torch = info;
        lines.push(describeTorch(info, opts.device, opts.threads));
      }
    }
    if ('unavailable' in loaded) lines.push(`${name}: skipped: ${loaded.unavailable}`);
    peers[name] = loaded;
  }
  return { peers, lines, versions };
}

function measureCeilings(opts: Options, log: (line: string) => void): Map<CeilingPrecision, Ceiling> {
  const ceilings = new Map<CeilingPrecision, Ceiling>();
  const size = opts.ceilingSize ?? (opts.device === 'cpu' ? DEFAULT_CEILING_SIZE.cpu : DEFAULT_CEILING_SIZE.cuda);
  if (size === 0) {
    log('GEMM ceiling: skipped (--ceiling-size 0)');
    return ceilings;
  }
  const precisions = new Set(opts.cases.map((c) => c.precision).filter(hasCeiling));
  if (precisions.size === 0) log('GEMM ceiling: not measured (only for float32 and TF32 rows)');
  for (const precision of precisions) {
    try {
      const c = opts.device === 'cpu' ? cpuCeiling(size) : cudaCeiling(size, opts.device, precision);
      ceilings.set(precision, c);
      log(`GEMM ceiling: ${c.what}: ${c.gflops.toFixed(1)} GFLOP/s (best of 5, ${c.ms.toFixed(2)} ms)`);
    } catch (error) {
      log(`GEMM ceiling (${precision}): not measured: ${firstLine(error)}`);
    }
  }
  return ceilings;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help') {
    console.log(`usage: node-rnn <command> [options]\ncommands: ${COMMANDS.join(', ')}\n\n${USAGE}`);
    return command === undefined ? 2 : 0;
  }
  if (!COMMANDS.includes(command)) {
    console.error(`node-rnn: unknown command ${JSON.stringify(command)} (commands: ${COMMANDS.join(', ')}; node-rnn bench --help)`);
    return 2;
  }
  let opts: Options;
  try {
    opts = parseArgs(rest);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`node-rnn bench: ${error.message}\n(node-rnn bench --help lists the options)`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  reexecWithoutBlasEnv(opts.keepEnv);

  // With --json, stdout carries only the JSON document; everything else goes to stderr.
  const log = (line: string): void => {
    if (opts.json) console.error(line);
    else console.log(line);
  };

  const lib = require('../lib/index') as NodeRnn;
  lib.setNumThreads(opts.threads);
  if (opts.device !== 'cpu' && !lib.cuda.isAvailable()) {
    let why = 'no usable CUDA device';
    try {
      lib.cuda.synchronize(Number(opts.device.slice(5)));
    } catch (error) {
      why = firstLine(error);
    }
    console.error(`node-rnn bench: --device ${opts.device}: ${why}`);
    return 1;
  }
  if (opts.device !== 'cpu' && Number(opts.device.slice(5)) >= lib.cuda.deviceCount()) {
    console.error(`node-rnn bench: --device ${opts.device}: only ${lib.cuda.deviceCount()} CUDA device(s)`);
    return 1;
  }

  const env = collectEnvironment(lib, opts.device);
  for (const line of environmentLines(env)) log(line);
  if (env.threads !== opts.threads) log(`note: asked for ${opts.threads} threads, node-rnn uses ${env.threads}`);
  if (env.loadAverage > 0.5) log(`note: load average ${env.loadAverage.toFixed(2)} before the run; other processes may skew the timings`);
  const { peers, lines: peerLines, versions } = await loadPeers(opts);
  for (const line of peerLines) log(line);
  const precisions = [...new Set(opts.cases.map((c) => c.precision))];
  log(
    `${opts.cases.length} case(s) from --shapes ${opts.shapes}; warm-up ${opts.warmup}${opts.warmup > 0 && !opts.interleave ? ' run(s) and >= 100 ms' : ''}, median of ${opts.repeats}; ` +
      `${opts.interleave ? 'implementations alternate run by run' : 'one block of runs per implementation and case'}; seed ${SEED}; ` +
      `seq-first input, zero initial state; ${precisions.join(', ')}`,
  );
  for (const note of opts.notes) log(`note: ${note}`);

  const ceilings = measureCeilings(opts, log);
  let reference: ReturnType<typeof referenceCheck>;
  try {
    reference = referenceCheck(lib);
  } catch (error) {
    console.error(`reference check: FAILED: ${(error as Error).message}`);
    return 1;
  }
  log(reference === null ? 'reference check: skipped (no test/fixtures/torch here)' : `reference check against PyTorch's outputs: ok (max rel err ${reference.maxErr.toExponential(2)})`);

  const { results, torchMeta } = await runCases(lib, opts, peers, ceilings, log);

  const shownPeers = opts.compare;
  const table = resultsTable(results, shownPeers, opts.device);
  const notes = resultNotes(results, shownPeers);
  log('');
  log(table);
  log('');
  log('ms: median; GFLOP/s counts the GEMMs (bench/flops.ts), backward = 2x and a training step = 3x the forward;');
  log(`% ceiling = GFLOP/s / the GEMM ceiling above${opts.device !== 'cpu' ? ' at the same precision' : ''} (float32${opts.device !== 'cpu' ? '/TF32' : ''} rows); ratio = peer ms / ours ms (> 1: node-rnn faster)`);
  if (tableLayout(results, shownPeers, opts.device).accuracy) {
    log('max abs err, rel err: that row\'s output against node-rnn float32 on the same weights and input (rel err = ||y - y32|| / ||y32||); "-" on node-rnn\'s float32 rows, the reference');
  }
  for (const n of notes) log(n);

  if (opts.plot !== null) {
    const subtitle = `${env.deviceName}${env.driver ? `, driver ${env.driver}` : ''}; node-rnn ${env.nodeRnn}, ${env.threads} threads`;
    fs.writeFileSync(opts.plot, renderBarChart(resultsChart(results, shownPeers, opts.plotMetric, subtitle)));
    log(`wrote ${opts.plot}`);
  }
  if (opts.json) {
    const doc = {
      tool: 'node-rnn bench',
      environment: env,
      peers: versions,
      torch: torchMeta,
      options: {
        device: opts.device, shapes: opts.shapes, precisions, threads: opts.threads, warmup: opts.warmup, repeats: opts.repeats,
        tfjsRepeats: opts.tfjsRepeats, compare: opts.compare, interleave: opts.interleave, seed: SEED, notes: opts.notes,
      },
      ceilings: Object.fromEntries(ceilings),
      reference,
      results,
    };
    console.log(JSON.stringify(doc, null, 2));
  }
  const failed = results.some((r) => r.ours.status === 'failed');
  const disagree = results.some((r) => Object.values(r.peers).some((o) => o?.status === 'ok' && o.check !== null && !o.check.agrees));
  return failed || disagree ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exitCode = 1;
    },
  );
}
