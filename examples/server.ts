// An HTTP inference server (Node's http, no framework): serves the sequence tagger of server-model.ts from a
// safetensors file, running every /predict through a DynamicBatcher so that concurrent requests share packed
// forwards on the libuv pool while the event loop only parses and writes JSON.
//
//   node dist/examples/server.js [--port 8080] [--host 127.0.0.1] [--model FILE] [--no-batching]
//                                [--max-batch 64] [--max-delay-ms 2] [--max-queue 1024] [--concurrency 1] [--threads N]
//                                [--device cpu|cuda]
//   (or the env variables PORT, HOST, MODEL, BATCHING=0, MAX_BATCH, MAX_DELAY_MS, MAX_QUEUE, CONCURRENCY, THREADS, DEVICE)
//
//   POST /predict {"input": [[...inputSize numbers], ...one row per step], "returnHidden"?: true}
//        -> {"output": [[...labels logits], ...one row per step], "hidden"?: {"h": [[...]], "c": [[...]]}}
//   GET  /health  -> {"status": "ok", ...}
//   GET  /metrics -> requests, errors, latency p50/p90/p99, batch sizes, event-loop delay (?reset=1 starts a new period)
//
// --no-batching runs one request per forward (maxBatch 1; with the default concurrency 1, one at a time), the
// baseline bench/load-test.ts compares against.
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { BATCHER_CLOSED, BATCHER_QUEUE_FULL, DeviceLike, DynamicBatcher, LSTMState, Tensor, dynamicBatcher, getNumThreads, setNumThreads } from '../lib/index';
import { ServerMetrics } from './server-metrics';
import { DEFAULT_CONFIG, SequenceTagger, loadOrCreateTagger } from './server-model';

export interface ServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The safetensors file; a random LSTM H=256 tagger is created and saved there when it is missing. */
  modelPath?: string;
  /** false: one request at a time (maxBatch 1). */
  batching?: boolean;
  maxBatch?: number;
  maxDelayMs?: number;
  maxQueue?: number;
  /** Batches running at once (each on its own libuv pool thread). */
  concurrency?: number;
  /** Where the LSTM runs: 'cpu' (default) or 'cuda' / 'cuda:N' (the small head stays on the CPU). */
  device?: string;
  /**
   * Native math threads per forward (setNumThreads); default 1: the event loop needs a core for HTTP and JSON, and
   * a team that spins at a barrier every step stalls whenever one of its threads loses its core to that work.
   */
  threads?: number;
  /** Longest sequence accepted, in steps. */
  maxSteps?: number;
  /** Largest request body, in bytes. */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  model: SequenceTagger;
  batcher: DynamicBatcher<LSTMState>;
  /** Stops accepting connections, lets running batches finish, closes the batcher. */
  close(): Promise<void>;
}

export const DEFAULT_MODEL_PATH = path.join(os.tmpdir(), 'node-rnn-server-tagger.safetensors');

/** A client error, answered with its status and message (never a crash). */
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (e) {
    // e.g. the client went away mid-body: its fault, not the server's
    throw e instanceof HttpError ? e : new HttpError(400, `could not read the request body: ${(e as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface PredictRequest {
  input: Float32Array;
  steps: number;
  returnHidden: boolean;
}

/** Checks a parsed /predict body and flattens its input, naming the first bad value. */
function parsePredict(body: unknown, inputSize: number, maxSteps: number): PredictRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'expected a JSON object {"input": [[...], ...]}');
  const { input, returnHidden, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new HttpError(400, `unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; expected "input" and optionally "returnHidden"`);
  if (returnHidden !== undefined && typeof returnHidden !== 'boolean') throw new HttpError(400, '"returnHidden" should be true or false');
  if (!Array.isArray(input) || input.length === 0 || input.length > maxSteps) {
    throw new HttpError(400, `"input" should be an array of 1 to ${maxSteps} steps, each an array of ${inputSize} numbers`);
  }
  const flat = new Float32Array(input.length * inputSize);
  input.forEach((row: unknown, t) => {
    if (!Array.isArray(row) || row.length !== inputSize) {
      throw new HttpError(400, `input[${t}] should be an array of ${inputSize} numbers (the model's inputSize) but is ${Array.isArray(row) ? `an array of ${row.length}` : JSON.stringify(row)}`);
    }
    for (let i = 0; i < inputSize; i++) {
      const v = row[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, `input[${t}][${i}] should be a finite number but is ${JSON.stringify(v)}`);
      flat[t * inputSize + i] = v;
    }
  });
  return { input: flat, steps: input.length, returnHidden: returnHidden === true };
}

/** A 2-D tensor as nested arrays of numbers. */
function rows(t: Tensor): number[][] {
  const [n, m] = t.shape;
  const data = t.data;
  return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * m, (i + 1) * m)));
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => console.log(line));
  const modelPath = options.modelPath ?? DEFAULT_MODEL_PATH;
  setNumThreads(options.threads ?? 1);
  const { model, created } = loadOrCreateTagger(modelPath, DEFAULT_CONFIG);
  if (options.device !== undefined && options.device !== 'cpu') model.rnn.to(options.device as DeviceLike);
  const { inputSize, hiddenSize, numLayers, labels } = model.config;
  log(created
    ? `model: ${modelPath} did not exist; created a random LSTM(${inputSize}, ${hiddenSize}) tagger with ${labels} labels (seed 0) and saved it there`
    : `model: loaded ${modelPath}: LSTM(${inputSize}, ${hiddenSize}, numLayers ${numLayers}), ${labels} labels`);
  const batching = options.batching ?? true;
  const batcher = dynamicBatcher(model.rnn, {
    maxBatch: batching ? options.maxBatch ?? 64 : 1,
    maxDelayMs: options.maxDelayMs ?? 2,
    maxQueue: options.maxQueue ?? 1024,
    concurrency: options.concurrency ?? 1,
  });
  const maxSteps = options.maxSteps ?? 4096;
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const metrics = new ServerMetrics();

  const predict = async (req: http.IncomingMessage, res: http.ServerResponse, started: number): Promise<void> => {
    let status = 200;
    try {
      const text = await readBody(req, maxBodyBytes);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new HttpError(400, `invalid JSON: ${(e as Error).message}`);
      }
      const request = parsePredict(body, inputSize, maxSteps);
      const { output, state } = await batcher.run(new Tensor(request.input, [request.steps, inputSize]));
      const answer: Record<string, unknown> = { output: rows(model.applyHead(output)) };
      if (request.returnHidden) answer.hidden = { h: rows(state[0]), c: rows(state[1]) };
      send(res, 200, answer);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (e instanceof HttpError) status = e.status;
      else if (code === BATCHER_QUEUE_FULL || code === BATCHER_CLOSED) status = 503;
      else status = 500;
      if (status === 500) log(`error in /predict: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) send(res, status, { error: (e as Error).message }, status === 503 ? { 'retry-after': '1' } : {});
      // a 413 leaves the rest of the body unread: drop the connection rather than read it
      if (status === 413) req.destroy();
    } finally {
      metrics.record(status, started);
    }
  };

  const server = http.createServer((req, res) => {
    const started = performance.now();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://server');
    } catch {
      send(res, 400, { error: `cannot parse the request target ${JSON.stringify(req.url)}` });
      return;
    }
    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /predict') {
      void predict(req, res, started);
    } else if (route === 'GET /health') {
      send(res, 200, {
        status: 'ok', model: model.config, device: model.rnn.device, threads: getNumThreads(),
        batching: { maxBatch: batcher.maxBatch, maxDelayMs: batcher.maxDelayMs, maxQueue: batcher.maxQueue, concurrency: batcher.concurrency },
      });
    } else if (route === 'GET /metrics') {
      const stats = batcher.stats();
      send(res, 200, metrics.snapshot(stats));
      if (url.searchParams.get('reset') === '1') metrics.reset(stats);
    } else if (['/predict', '/health', '/metrics'].includes(url.pathname)) {
      send(res, 405, { error: `${req.method} is not allowed on ${url.pathname}` }, { allow: url.pathname === '/predict' ? 'POST' : 'GET' });
    } else {
      send(res, 404, { error: `no route ${url.pathname}; try POST /predict, GET /health, GET /metrics` });
    }
  });
  // a client that sends a bad request line or headers gets a 400, not a crashed server
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  log(`listening on ${url} (${model.rnn.device}, ${batching ? `batching: maxBatch ${batcher.maxBatch}, maxDelayMs ${batcher.maxDelayMs}` : 'no batching: one request at a time'}, ${getNumThreads()} native thread(s))`);
  return {
    url, port, model, batcher,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await batcher.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

function intFrom(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${name} should be a non-negative number but is ${JSON.stringify(text)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' }, host: { type: 'string' }, model: { type: 'string' }, 'no-batching': { type: 'boolean' },
      'max-batch': { type: 'string' }, 'max-delay-ms': { type: 'string' }, 'max-queue': { type: 'string' }, concurrency: { type: 'string' }, threads: { type: 'string' },
      device: { type: 'string' },
    },
  });
  const env = process.env;
  const running = await startServer({
    port: intFrom('port', values.port ?? env.PORT) ?? 8080,
    host: values.host ?? env.HOST ?? '127.0.0.1',
    modelPath: values.model ?? env.MODEL,
    batching: !(values['no-batching'] === true || env.BATCHING === '0'),
    maxBatch: intFrom('max-batch', values['max-batch'] ?? env.MAX_BATCH),
    maxDelayMs: intFrom('max-delay-ms', values['max-delay-ms'] ?? env.MAX_DELAY_MS),
    maxQueue: intFrom('max-queue', values['max-queue'] ?? env.MAX_QUEUE),
    concurrency: intFrom('concurrency', values.concurrency ?? env.CONCURRENCY),
    device: values.device ?? env.DEVICE,
    threads: intFrom('threads', values.threads ?? env.THREADS),
  });
  const stop = () => {
    running.close().then(() => process.exit(0), (e) => {
      console.error(e);
      process.exit(1);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
