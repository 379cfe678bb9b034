// Runs the cases: per case node-rnn and the in-process peers that can time it (each checked against node-rnn
// float32 first), timed next to each other; then PyTorch over all its cases in one child process. Produces one
// result per case with node-rnn's time, GFLOP/s, % of the GEMM ceiling, its accuracy against node-rnn float32 at a
// reduced precision, and per peer a time, ratio and check or the reason there is none.

import type { BenchDevice, Options, PeerName } from './args';
import { accuracy, type Accuracy } from './accuracy';
import { caseFlops, caseLabel, INFERENCE_ONLY, precisionLabel, type BenchCase, type Pass, type Precision, type Mode, type Shape } from './cases';
import { hasCeiling, type Ceiling, type CeilingPrecision } from './ceiling';
import { cudaLoop } from './cuda-loop';
import { prepareOurs, type NodeRnn, type OursCase } from './ours';
import { firstLine, type InProcessPeer, type PeerOutcome, type PeerRun } from './peers';
import { runTorch, type TorchResult } from './peer-torch';
import { median, timeSides, type Side } from './timing';

export const SEED = 0;

export type OursOutcome =
  | {
      status: 'ok'; ms: number; gflops: number; timesMs: number[]; ceilingPct: number | null;
      /** the output against node-rnn float32's on the same weights and input; null on float32 rows (the reference) and non-forward passes */
      accuracy: Accuracy | null;
    }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; error: string };

export interface CaseResult {
  label: string;
  mode: Mode;
  shape: Shape;
  pass: Pass;
  precision: Precision;
  device: BenchDevice;
  /** GFLOP of one timed unit (bench/flops.ts) */
  gflop: number;
  /** CUDA: the float32 time loop the forward takes (bench/cuda-loop.ts); '' on the CPU */
  loop: string;
  ours: OursOutcome;
  peers: Partial<Record<PeerName, PeerOutcome>>;
}

/** Where each compared peer stands before any case runs. */
export type PeerSet = Partial<Record<PeerName, { inProcess: InProcessPeer } | { torch: true } | { unavailable: string }>>;

function timed(ms: number, times: number[], gflop: number, oursMs: number | null, check: PeerRun['check'] | null): PeerOutcome {
  return { status: 'ok', ms, gflops: gflop / (ms / 1e3), timesMs: times, ratio: oursMs !== null ? ms / oursMs : NaN, check };
}

async function runCase(
  lib: NodeRnn, c: BenchCase, index: number, opts: Options, peers: PeerSet, ceilings: Map<CeilingPrecision, Ceiling>, log: (line: string) => void,
): Promise<CaseResult> {
  const gflop = caseFlops(c) / 1e9;
  const result: CaseResult = {
    label: caseLabel(c), mode: c.mode, shape: c.shape, pass: c.pass, precision: c.precision, device: opts.device, gflop,
    loop: cudaLoop(c, opts.device),
    ours: { status: 'failed', error: 'not run' }, peers: {},
  };
  let ours: OursCase;
  try {
    ours = prepareOurs(lib, c, opts.device, SEED);
  } catch (error) {
    result.ours = { status: 'failed', error: firstLine(error) };
    for (const name of opts.compare) result.peers[name] = { status: 'skipped', reason: 'node-rnn could not set up the case' };
    return result;
  }

  // ours at this precision may be missing (no quantizeDynamic) or fail to convert: the peers still run
  const oursTimed = 'runner' in ours.timed ? ours.timed : null;
  const oursSide: Side = { runner: oursTimed?.runner ?? { run: () => undefined }, warmup: opts.warmup, repeats: opts.repeats, times: [] };
  let oursAccuracy: Accuracy | null = null;
  if (oursTimed !== null && c.precision !== 'float32' && ours.reference !== null) {
    try {
      oursAccuracy = accuracy(oursTimed.output(), ours.reference);
    } catch (error) {
      oursSide.error = firstLine(error); // reported as ours' failure below; the side is not timed
    }
  }
  const sides: Side[] = oursTimed !== null && oursSide.error === undefined ? [oursSide] : [];
  const created: { name: PeerName; run: PeerRun; side: Side }[] = [];
  const settings = { threads: opts.threads, warmup: opts.warmup, repeats: opts.repeats, tfjsRepeats: opts.tfjsRepeats };
  for (const name of opts.compare) {
    const p = peers[name];
    if (p === undefined || 'torch' in p) continue;
    if ('unavailable' in p) {
      result.peers[name] = { status: 'skipped', reason: p.unavailable };
      continue;
    }
    const reason = p.inProcess.unsupported(c, opts.device);
    if (reason !== null) {
      result.peers[name] = { status: 'skipped', reason };
      continue;
    }
    try {
      // before any timed run: the training steps update node-rnn's weights, the check needs the initial ones
      const made = await p.inProcess.create(c, ours, settings);
      // released once: after its block, or at the end (an error, --interleave)
      let released: Promise<void> | null = null;
      const run = { ...made, dispose: (): Promise<void> => (released ??= Promise.resolve(made.dispose())) };
      const side: Side = { runner: run.runner, warmup: run.warmup, repeats: run.repeats, times: [], done: () => run.dispose() };
      created.push({ name, run, side });
      sides.push(side);
    } catch (error) {
      result.peers[name] = { status: 'failed', error: firstLine(error) };
    }
  }

  try {
    await timeSides(sides, opts.interleave, index % 2 === 1);
  } finally {
    for (const { run } of created) await run.dispose();
    try {
      ours.dispose();
    } catch {
      // device memory goes with the GC then
    }
  }

  if ('skipped' in ours.timed) {
    result.ours = { status: 'skipped', reason: ours.timed.skipped };
  } else if ('failed' in ours.timed) {
    result.ours = { status: 'failed', error: ours.timed.failed };
  } else if (oursSide.error !== undefined) {
    result.ours = { status: 'failed', error: oursSide.error };
  } else {
    const ms = median(oursSide.times);
    const gflops = gflop / (ms / 1e3);
    const ceiling = hasCeiling(c.precision) ? ceilings.get(c.precision) : undefined;
    result.ours = { status: 'ok', ms, gflops, timesMs: oursSide.times, ceilingPct: ceiling ? (100 * gflops) / ceiling.gflops : null, accuracy: oursAccuracy };
  }
  const oursMs = result.ours.status === 'ok' ? result.ours.ms : null;
  for (const { name, run, side } of created) {
    result.peers[name] = side.error !== undefined ? { status: 'failed', error: side.error } : timed(median(side.times), side.times, gflop, oursMs, run.check);
  }

  const o32 = result.ours;
  const parts = [
    o32.status === 'ok'
      ? `ours ${o32.ms.toFixed(3)} ms${o32.accuracy ? `, rel err ${o32.accuracy.relErr.toExponential(2)} to float32` : ''}`
      : o32.status === 'skipped' ? `ours -: ${o32.reason}` : `ours FAILED: ${o32.error}`,
  ];
  for (const { name } of created) {
    const o = result.peers[name]!;
    if (o.status === 'ok') parts.push(`${name} ${o.ms.toFixed(3)} ms, ${o.check!.what} rel err ${o.check!.relErr.toExponential(2)}${o.check!.agrees ? '' : ' (DISAGREE)'}`);
    else if (o.status === 'failed') parts.push(`${name} FAILED: ${o.error}`);
  }
  const showPrecision = opts.device !== 'cpu' || opts.cases.some((x) => x.precision !== 'float32');
  log(`  ${result.label} ${c.pass}${showPrecision ? ` ${precisionLabel(c.precision)}` : ''}: ${parts.join('; ')}`);
  return result;
}

export async function runCases(
  lib: NodeRnn, opts: Options, peers: PeerSet, ceilings: Map<CeilingPrecision, Ceiling>, log: (line: string) => void,
): Promise<{ results: CaseResult[]; torchMeta: Record<string, unknown> | null }> {
  const results: CaseResult[] = [];
  for (const [i, c] of opts.cases.entries()) results.push(await runCase(lib, c, i, opts, peers, ceilings, log));
  if (opts.device !== 'cpu') lib.setFloat32MatmulPrecision('highest');

  let torchMeta: Record<string, unknown> | null = null;
  const torch = peers.torch;
  if (opts.compare.includes('torch') && torch !== undefined) {
    if ('unavailable' in torch) {
      for (const r of results) r.peers.torch = { status: 'skipped', reason: torch.unavailable };
    } else {
      // the PyTorch script builds float32 modules: the half and int8 rows have no torch time
      const timedByTorch = opts.cases.map((c, i) => i).filter((i) => !INFERENCE_ONLY.includes(opts.cases[i].precision));
      for (const [i, r] of results.entries()) {
        if (!timedByTorch.includes(i)) r.peers.torch = { status: 'skipped', reason: 'the PyTorch peer times float32 and TF32 only' };
      }
      log(`PyTorch: timing ${timedByTorch.length} case(s) in python3 ...`);
      const { results: byIndex, meta, error } = runTorch(timedByTorch.map((i) => opts.cases[i]), opts.device, {
        threads: opts.threads, warmup: opts.warmup, repeats: opts.repeats, seed: SEED,
      });
      torchMeta = meta;
      timedByTorch.forEach((caseIndex, i) => {
        const r = results[caseIndex];
        const t: TorchResult | undefined = byIndex.get(i);
        if (t === undefined) r.peers.torch = { status: 'failed', error: error ?? 'no result' };
        else if (t.error !== undefined || typeof t.ms !== 'number') r.peers.torch = { status: 'failed', error: t.error ?? 'no time' };
        else {
          const o = timed(t.ms, t.timesMs ?? [], r.gflop, r.ours.status === 'ok' ? r.ours.ms : null, null);
          if (o.status === 'ok' && typeof t.eventMs === 'number') o.eventMs = t.eventMs; // PyTorch's CUDA-event time, for reference
          r.peers.torch = o;
        }
      });
    }
  }
  return { results, torchMeta };
}
