// What GET /metrics of examples/server.ts reports: request and error counts, server-side latency percentiles of
// /predict, the batcher's batch sizes, and the event loop's delay (perf_hooks.monitorEventLoopDelay), which shows
// whether JSON work or anything else blocks the loop while forwards run on the libuv pool.
import { RecordableHistogram, IntervalHistogram, createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { DynamicBatcherStats } from '../lib/index';

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));
/**
 * The event-loop sampling interval. Node 20's histogram holds whole intervals between samples (about 10 ms when
 * the loop is idle), so the delay reported is what exceeds the interval.
 */
const LOOP_RESOLUTION_MS = 10;

export interface MetricsSnapshot {
  uptimeS: number;
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  batches: { count: number; meanSize: number; sizes: Record<number, number>; queued: number; running: number; forwardMs: number };
  eventLoopDelayMs: { p50: number; p99: number; max: number; mean: number };
  /** CPU time of the whole server process (event loop, pool threads, native threads) over the period, in cores. */
  cpuCores: number;
}

export class ServerMetrics {
  #started = performance.now();
  #cpuAtStart = process.cpuUsage();
  #requests = 0;
  #statuses: Record<string, number> = {};
  /** /predict latency in microseconds (histograms hold integers). */
  #latency: RecordableHistogram = createHistogram();
  #loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  /** Batcher counters at the last reset, so the snapshot covers the same period as the rest. */
  #batchBase: DynamicBatcherStats | null = null;

  constructor() {
    this.#loop.enable();
  }

  /** Records one /predict answer: its status and how long it took from the request's arrival. */
  record(status: number, startedMs: number): void {
    this.#requests++;
    this.#statuses[status] = (this.#statuses[status] ?? 0) + 1;
    this.#latency.record(Math.max(1, Math.round((performance.now() - startedMs) * 1000)));
  }

  snapshot(batcher: DynamicBatcherStats): MetricsSnapshot {
    const errors = Object.entries(this.#statuses).reduce((n, [s, c]) => n + (Number(s) >= 400 ? c : 0), 0);
    const us = (p: number) => (this.#latency.count === 0 ? 0 : round(this.#latency.percentile(p) / 1000));
    const ns = (v: number) => (this.#loop.count === 0 ? 0 : round(Math.max(0, v / 1e6 - LOOP_RESOLUTION_MS)));
    const base = this.#batchBase;
    const sizes: Record<number, number> = {};
    let count = 0, batched = 0;
    for (const [size, n] of Object.entries(batcher.batchSizes)) {
      const since = n - (base?.batchSizes[Number(size)] ?? 0);
      if (since > 0) sizes[Number(size)] = since;
      count += since;
      batched += since * Number(size);
    }
    const cpu = process.cpuUsage(this.#cpuAtStart);
    const elapsedMs = performance.now() - this.#started;
    return {
      uptimeS: round(elapsedMs / 1000, 1),
      requests: this.#requests,
      errors,
      statuses: { ...this.#statuses },
      latencyMs: { p50: us(50), p90: us(90), p99: us(99), max: us(100), mean: this.#latency.count === 0 ? 0 : round(this.#latency.mean / 1000) },
      batches: {
        count, meanSize: count === 0 ? 0 : round(batched / count, 2), sizes, queued: batcher.queued, running: batcher.running,
        forwardMs: round(batcher.forwardMs - (base?.forwardMs ?? 0), 1),
      },
      eventLoopDelayMs: {
        p50: ns(this.#loop.percentile(50)), p99: ns(this.#loop.percentile(99)), max: ns(this.#loop.max), mean: ns(this.#loop.mean),
      },
      cpuCores: round((cpu.user + cpu.system) / 1000 / elapsedMs, 2),
    };
  }

  /** Starts a new measuring period (the load test resets after its warm-up). */
  reset(batcher: DynamicBatcherStats): void {
    this.#started = performance.now();
    this.#cpuAtStart = process.cpuUsage();
    this.#requests = 0;
    this.#statuses = {};
    this.#latency.reset();
    this.#loop.reset();
    this.#batchBase = batcher;
  }
}
