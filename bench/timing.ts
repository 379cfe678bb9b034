// How the bench times things: a Runner is one timed unit of work (untimed set-up and clean-up around it), timed
// with the host clock; implementations that share the machine are timed in blocks after a pause, or run by run.

import { performance } from 'node:perf_hooks';

/** One timed unit: `prepare` and `finish` run around it, untimed (e.g. the forward before a timed backward). */
export interface Runner {
  prepare?(): void;
  run(): void | Promise<void>;
  /** Waits until the work is done (cuda.synchronize() for a device); timed, as part of the run. */
  sync?(): void;
  finish?(): void;
}

/**
 * Pause before each block of runs (each run with --interleave). Both runtimes keep their worker threads
 * spinning for a while after a call (OpenBLAS up to ~2^28 cycles, ONNX Runtime's intra-op pool briefly);
 * with as many threads as cores, a run that starts while the other runtime still spins can take 10-20x
 * longer (measured: LSTM 100x1x256, ours 1.3 ms alone, 33 ms straight after an ORT run).
 */
export const SETTLE_MS = 200;

/**
 * A block's warm-up goes on past its --warmup runs until it has run this long (at most MAX_WARMUP_RUNS runs): V8
 * optimises a function after many calls, and with 3 warm-up runs a call of tens of microseconds was timed in
 * V8's interpreter (LSTM 1x1x256: 0.142 ms after 3 runs, 0.061 ms after 300; ONNX Runtime 0.083 and 0.053).
 */
export const WARMUP_MS = 100;
export const MAX_WARMUP_RUNS = 1000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** ‖a − b‖ / ‖b‖ in float64 (absolute error when b is all zeros); Infinity on a length mismatch or NaN. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
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

/** Milliseconds of one run of `r`. */
export async function timeOnce(r: Runner): Promise<number> {
  r.prepare?.();
  const t0 = performance.now();
  await r.run();
  r.sync?.();
  const ms = performance.now() - t0;
  r.finish?.();
  return ms;
}

export interface Side {
  runner: Runner;
  warmup: number;
  /** The block's least warm-up time when warmup > 0 (default WARMUP_MS). */
  warmupMs?: number;
  repeats: number;
  times: number[];
  /** set when a run threw: the side stops there, the others go on */
  error?: string;
  /**
   * Called when the side's block ends (blocks only, not --interleave): an in-process peer releases its session,
   * so that its idle threads cannot slow the side timed next (ONNX Runtime's spinning pool slowed a batch-1 node-rnn
   * block timed right after it by 20-80% on the 2-core dev VM, SETTLE_MS later).
   */
  done?: () => Promise<void>;
}

async function timeSide(side: Side, timed: boolean): Promise<void> {
  if (side.error !== undefined) return;
  try {
    const ms = await timeOnce(side.runner);
    if (timed) side.times.push(ms);
  } catch (error) {
    side.error = error instanceof Error ? error.message.split('\n')[0] : String(error);
  }
}

/**
 * Times every side (a side whose run throws records the error and stops there): one block each (its warm-up,
 * then its repeats back to back) after a pause, or with `interleave` round by round with a pause before every run.
 * `flip` reverses the order (alternated by case, so that neither side always runs first).
 */
export async function timeSides(sides: Side[], interleave: boolean, flip: boolean): Promise<void> {
  const order = flip ? [...sides].reverse() : sides;
  if (interleave) {
    const rounds = Math.max(...order.map((s) => s.warmup + s.repeats));
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? order : [...order].reverse()) {
        if (round >= side.warmup + side.repeats) continue;
        await sleep(SETTLE_MS);
        await timeSide(side, round >= side.warmup);
      }
    }
    return;
  }
  for (const side of order) {
    await sleep(SETTLE_MS);
    const start = performance.now();
    const warmupMs = side.warmup > 0 ? side.warmupMs ?? WARMUP_MS : 0;
    for (let i = 0; i < side.warmup || (i < MAX_WARMUP_RUNS && performance.now() - start < warmupMs); i++) {
      await timeSide(side, false);
      if (side.error !== undefined) break;
    }
    for (let i = 0; i < side.repeats; i++) await timeSide(side, true);
    await side.done?.();
  }
}
