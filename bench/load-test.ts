// Load test of examples/server.ts (`npm run loadtest`): for each mode (dynamic batching, and one request at a
// time), starts the server as a child process on 127.0.0.1 with a free port, warms it up, then runs autocannon
// (64 connections by default) for a bounded time with mixed-length sequences, and prints throughput, client
// latency p50/p99, failures, the server's mean batch size and its event-loop delay. Traffic goes to 127.0.0.1 only.
// With --rounds N the modes alternate N times and the ratio is taken between the medians (the machine is shared).
// Options: --help (USAGE below).
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, loadOrCreateTagger } from '../examples/server-model';
import type { MetricsSnapshot } from '../examples/server-metrics';

/** The part of autocannon's result this test reads (the package ships no types). */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Promise<AutocannonResult>;

const USAGE = `usage: node dist/bench/load-test.js [--duration 10] [--warmup 2] [--connections 64] [--modes batching,single]
       [--rounds 1] [--min-steps 25] [--max-steps 75] [--threads N] [--device cpu|cuda]
       [--max-batch 64] [--max-delay-ms 2] [--concurrency 1]   (these three: the batching server only)`;

const MODES = { batching: [] as string[], single: ['--no-batching'] } as const;
type Mode = keyof typeof MODES;

function options() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' }, warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '64' }, modes: { type: 'string', default: 'batching,single' },
      rounds: { type: 'string', default: '1' }, help: { type: 'boolean' },
      'min-steps': { type: 'string', default: '25' }, 'max-steps': { type: 'string', default: '75' },
      threads: { type: 'string' }, 'max-batch': { type: 'string' }, 'max-delay-ms': { type: 'string' }, concurrency: { type: 'string' },
      device: { type: 'string' },
    },
  });
  if (values.help) return null;
  const num = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) throw new RangeError(`--${name} should be a number >= ${min} but is ${JSON.stringify(text)}`);
    return n;
  };
  const modes = values.modes.split(',').map((m) => {
    if (!(m in MODES)) throw new RangeError(`--modes: unknown mode ${JSON.stringify(m)}; expected ${Object.keys(MODES).join(', ')}`);
    return m as Mode;
  });
  const serverArgs: string[] = [];
  if (values.threads !== undefined) serverArgs.push('--threads', String(num('threads', values.threads, 1)));
  if (values.device !== undefined) serverArgs.push('--device', values.device);
  // batching knobs go to the batching server only: the baseline stays one request at a time
  const batchingArgs: string[] = [];
  if (values['max-batch'] !== undefined) batchingArgs.push('--max-batch', String(num('max-batch', values['max-batch'], 1)));
  if (values.concurrency !== undefined) batchingArgs.push('--concurrency', String(num('concurrency', values.concurrency, 1)));
  if (values['max-delay-ms'] !== undefined) batchingArgs.push('--max-delay-ms', String(num('max-delay-ms', values['max-delay-ms'], 0)));
  const minSteps = num('min-steps', values['min-steps'], 1);
  return {
    duration: num('duration', values.duration, 1), warmup: num('warmup', values.warmup, 0),
    connections: num('connections', values.connections, 1), modes, serverArgs, batchingArgs, rounds: Math.floor(num('rounds', values.rounds, 1)),
    minSteps, maxSteps: num('max-steps', values['max-steps'], minSteps),
  };
}

/** Request bodies with lengths spread over [minSteps, maxSteps], from a seeded generator (same in every mode). */
function makeBodies(count: number, minSteps: number, maxSteps: number, inputSize: number): { body: string; steps: number }[] {
  let s = 12345;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return Array.from({ length: count }, () => {
    const steps = minSteps + Math.floor(next() * (maxSteps - minSteps + 1));
    const input = Array.from({ length: steps }, () => Array.from({ length: inputSize }, () => Math.round((next() * 2 - 1) * 1000) / 1000));
    return { body: JSON.stringify({ input }), steps };
  });
}

interface Server {
  url: string;
  child: ChildProcess;
}

function startServer(modelPath: string, args: string[]): Promise<Server> {
  const script = path.resolve(__dirname, '../examples/server.js');
  const child = spawn(process.execPath, [script, '--port', '0', '--host', '127.0.0.1', '--model', modelPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start listening within 60 s:\n${seen}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with code ${code} before listening:\n${seen}`));
    });
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      seen += text;
      for (const line of text.split('\n').filter(Boolean)) console.log(`  [server] ${line}`);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    });
  });
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  // the server finishes its running batch and exits; a stuck one is killed
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** One request checked by hand, so that a fast server that answers nonsense cannot pass. */
async function checkAnswer(url: string, body: { body: string; steps: number }, labels: number): Promise<void> {
  const answer = await getJson<{ output: number[][] }>(`${url}/predict`, { method: 'POST', body: body.body, headers: { 'content-type': 'application/json' } });
  const ok = answer.output.length === body.steps && answer.output.every((row) => row.length === labels && row.every(Number.isFinite));
  if (!ok) throw new Error(`unexpected /predict answer for a ${body.steps}-step input: ${JSON.stringify(answer).slice(0, 200)}`);
}

function fire(url: string, seconds: number, connections: number, bodies: { body: string }[]): Promise<AutocannonResult> {
  let next = 0;
  return autocannon({
    url: `${url}/predict`,
    connections,
    duration: seconds,
    timeout: 30,
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request: Record<string, unknown>) => ({ ...request, body: bodies[next++ % bodies.length].body }),
    }],
  });
}

interface Row {
  mode: Mode;
  round: number;
  client: AutocannonResult;
  server: MetricsSnapshot;
  /** CPU of this process (autocannon) during the run, in cores. */
  clientCores: number;
  /** 1-minute load average when the run started (others' work on a shared machine shows here). */
  loadBefore: number;
}

function aligned(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

type Options = NonNullable<ReturnType<typeof options>>;

/** One timed run of one mode on a fresh server: warm-up, metrics reset, the measured run, the server's metrics. */
async function measure(mode: Mode, round: number, o: Options, modelPath: string, bodies: { body: string; steps: number }[], labels: number): Promise<Row> {
  console.log(`\n${mode}, round ${round}:`);
  const loadBefore = os.loadavg()[0];
  const server = await startServer(modelPath, [...MODES[mode], ...o.serverArgs, ...(mode === 'batching' ? o.batchingArgs : [])]);
  try {
    await checkAnswer(server.url, bodies[0], labels);
    if (o.warmup > 0) await fire(server.url, o.warmup, o.connections, bodies);
    await getJson(`${server.url}/metrics?reset=1`);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const client = await fire(server.url, o.duration, o.connections, bodies);
    const used = process.cpuUsage(cpu);
    const clientCores = (used.user + used.system) / 1000 / (performance.now() - started);
    const metrics = await getJson<MetricsSnapshot>(`${server.url}/metrics`);
    console.log(`  ${client.requests.total} requests, ${client.requests.average.toFixed(1)} req/s, load average ${loadAverage()}`);
    return { mode, round, client, server: metrics, clientCores, loadBefore };
  } finally {
    await stopServer(server);
  }
}

async function main(): Promise<void> {
  const o = options();
  if (o === null) {
    console.log(USAGE);
    return;
  }
  const modelPath = path.join(os.tmpdir(), `node-rnn-loadtest-${process.pid}.safetensors`);
  const { model, created } = loadOrCreateTagger(modelPath, DEFAULT_CONFIG);
  const { inputSize, hiddenSize, labels } = model.config;
  console.log(`load test: LSTM(${inputSize}, ${hiddenSize}) + ${labels}-label head (${created ? 'random weights, ' : ''}${modelPath}), ` +
    `${o.connections} connections, ${o.duration} s per run after ${o.warmup} s warm-up, sequences of ${o.minSteps}-${o.maxSteps} steps, ` +
    `${o.rounds} round(s)${o.serverArgs.length > 0 ? `, server ${o.serverArgs.join(' ')}` : ''}` +
    `${o.batchingArgs.length > 0 ? `, batching server ${o.batchingArgs.join(' ')}` : ''}`);
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${loadAverage()}`);
  const bodies = makeBodies(32, o.minSteps, o.maxSteps, inputSize);
  const results: Row[] = [];
  try {
    for (let round = 1; round <= o.rounds; round++) {
      // alternate the order so that a drifting background load does not always favour the same mode
      const order = round % 2 === 1 ? o.modes : [...o.modes].reverse();
      for (const mode of order) results.push(await measure(mode, round, o, modelPath, bodies, labels));
    }
  } finally {
    if (created) fs.rmSync(modelPath, { force: true });
  }
  const header = ['mode', 'round', 'load 1m', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'timeouts', 'non-2xx', 'mean batch',
    'server p99 ms', 'loop delay p99 ms', 'loop max ms', 'server cpu', 'client cpu'];
  const table = [header, ...results.map((r) => [
    r.mode, String(r.round), r.loadBefore.toFixed(2), r.client.requests.average.toFixed(1), String(r.client.latency.p50),
    String(r.client.latency.p99), String(r.client.errors), String(r.client.timeouts), String(r.client.non2xx),
    r.server.batches.meanSize.toFixed(1), r.server.latencyMs.p99.toFixed(1), r.server.eventLoopDelayMs.p99.toFixed(1),
    r.server.eventLoopDelayMs.max.toFixed(1), r.server.cpuCores.toFixed(2), r.clientCores.toFixed(2),
  ])];
  console.log(`\n${aligned(table)}`);
  const rate = (mode: Mode) => median(results.filter((r) => r.mode === mode).map((r) => r.client.requests.average));
  if (o.modes.includes('batching') && o.modes.includes('single')) {
    const [batched, single] = [rate('batching'), rate('single')];
    console.log(`\nmedian req/s: batching ${batched.toFixed(1)}, single ${single.toFixed(1)}; ` +
      `throughput with batching / one at a time: ${(batched / single).toFixed(2)}x (load average now ${loadAverage()})`);
  }
  const failed = results.reduce((n, r) => n + r.client.errors + r.client.timeouts + r.client.non2xx, 0);
  console.log(failed > 0 ? `${failed} request(s) failed` : 'no failed request');
  if (failed > 0) process.exitCode = 1;
}

main().catch((e) => {
  // argument mistakes get their message; anything else its stack
  console.error(e instanceof TypeError || e instanceof RangeError ? `${e.message}\n${USAGE}` : e);
  process.exit(1);
});
