// Runs the cases: per case node-rnn and the in-process peers that can time it (each checked against node-rnn
// first), timed next to each other; then PyTorch over all its cases in one child process. Produces one result
// per case with node-rnn's time, GFLOP/s, % of the GEMM ceiling, and per peer a time and ratio or the reason
// there is none.

import type { BenchDevice, Options, PeerName } from './args';
import { caseFlops, caseLabel, type BenchCase, type Pass, type Precision, type Mode, type Shape } from './cases';
import type { Ceiling } from './ceiling';
import { cudaLoop } from './cuda-loop';
import { prepareOurs, type NodeRnn, type OursCase } from './ours';
import { firstLine, type InProcessPeer, type PeerOutcome, type PeerRun } from './peers';
import { runTorch, type TorchResult } from './peer-torch';
import { median, timeSides, type Side } from './timing';

export const SEED = 0;

export type OursOutcome =
  | { status: 'ok'; ms: number; gflops: number; timesMs: number[]; ceilingPct: number | null }
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
  lib: NodeRnn, c: BenchCase, index: number, opts: Options, peers: PeerSet, ceilings: Map<Precision, Ceiling>, log: (line: string) => void,
): Promise<CaseResult> {
  const gflop = caseFlops(c) / 1e9;
  const result: CaseResult = {
    label: caseLabel(c), mode: c.mode, shape: c.shape, pass: c.pass, precision: c.precision, device: opts.device, gflop,
    loop: cudaLoop(c, opts.device),
    ours: { status: 'failed', error: 'not run' }, peers: {},
  };
  if (opts.device !== 'cpu') lib.setFloat32MatmulPrecision(c.precision);

  let ours: OursCase;
  try {
    ours = prepareOurs(lib, c, opts.device, SEED);
  } catch (error) {
    result.ours = { status: 'failed', error: firstLine(error) };
    for (const name of opts.compare) result.peers[name] = { status: 'skipped', reason: 'node-rnn could not set up the case' };
    return result;
  }

  const sides: Side[] = [{ runner: ours.runner, warmup: opts.warmup, repeats: opts.repeats, times: [] }];
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
      const run = await p.inProcess.create(c, ours, settings);
      const side: Side = { runner: run.runner, warmup: run.warmup, repeats: run.repeats, times: [] };
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

  const oursSide = sides[0];
  if (oursSide.error !== undefined) {
    result.ours = { status: 'failed', error: oursSide.error };
  } else {
    const ms = median(oursSide.times);
    const gflops = gflop / (ms / 1e3);
    const ceiling = ceilings.get(c.precision);
    result.ours = { status: 'ok', ms, gflops, timesMs: oursSide.times, ceilingPct: ceiling ? (100 * gflops) / ceiling.gflops : null };
  }
  const oursMs = result.ours.status === 'ok' ? result.ours.ms : null;
  for (const { name, run, side } of created) {
    result.peers[name] = side.error !== undefined ? { status: 'failed', error: side.error } : timed(median(side.times), side.times, gflop, oursMs, run.check);
  }

  const parts = [`ours ${result.ours.status === 'ok' ? `${result.ours.ms.toFixed(3)} ms` : `FAILED: ${result.ours.error}`}`];
  for (const { name } of created) {
    const o = result.peers[name]!;
    if (o.status === 'ok') parts.push(`${name} ${o.ms.toFixed(3)} ms, ${o.check!.what} rel err ${o.check!.relErr.toExponential(2)}${o.check!.agrees ? '' : ' (DISAGREE)'}`);
    else if (o.status === 'failed') parts.push(`${name} FAILED: ${o.error}`);
  }
  log(`  ${result.label} ${c.pass}${opts.device !== 'cpu' ? ` ${c.precision}` : ''}: ${parts.join('; ')}`);
  return result;
}

export async function runCases(
  lib: NodeRnn, opts: Options, peers: PeerSet, ceilings: Map<Precision, Ceiling>, log: (line: string) => void,
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
      log(`PyTorch: timing ${opts.cases.length} case(s) in python3 ...`);
      const { results: byIndex, meta, error } = runTorch(opts.cases, opts.device, {
        threads: opts.threads, warmup: opts.warmup, repeats: opts.repeats, seed: SEED,
      });
      torchMeta = meta;
      results.forEach((r, i) => {
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
