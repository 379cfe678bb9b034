// Dynamic batching for inference servers: concurrent requests (each one sequence, of any length) are gathered for
// up to `maxBatch` requests or `maxDelayMs`, whichever comes first, and run as one packed forward. A batched call
// reads the weights once per step for all its sequences (matrix products instead of matrix-vector products), so
// under load it does more work per second; each request still gets what running it alone would give, equal within
// float32 rounding (not bit for bit: the batch's matrix products round differently, by about 1e-7).
import { checkInteger, checkNumberInRange, checkOptions, describe, shapeText } from '../checks';
import { GRU } from '../nn/gru';
import { LSTM, LSTMState } from '../nn/lstm';
import { RNN } from '../nn/rnn';
import type { RecurrentModule, SessionState } from '../nn/session';
import { Tensor, checkTensor } from '../tensor';
import { RequestData, RequestResult, forwardBatch, stateSizes } from './batch-forward';

export interface DynamicBatcherOptions {
  /** Most requests in one batch (default 32). */
  maxBatch?: number;
  /**
   * Longest time a request waits for others while a batch slot is free before its batch runs anyway (default 2 ms).
   * Requests that arrive while every slot is busy run as soon as one frees.
   */
  maxDelayMs?: number;
  /** Most requests waiting (not yet running); further ones are rejected with code BATCHER_QUEUE_FULL (default 1024). */
  maxQueue?: number;
  /** Most batches running at once (default 1: the next batch forms while the current one runs). */
  concurrency?: number;
}

/** One request's result: its output `[steps, directions * outSize]` and final state (h, or [h, c] for LSTM), on the CPU. */
export interface BatchedResult<S extends SessionState = SessionState> {
  output: Tensor;
  state: S;
}

export interface DynamicBatcherStats {
  /** Requests accepted into the queue. */
  submitted: number;
  /** Requests resolved with a result. */
  completed: number;
  /** Requests rejected because their batch's forward failed. */
  failed: number;
  /** Requests turned away: queue full, or the batcher closed before they ran. */
  rejected: number;
  /** Batches run (successful or not). */
  batches: number;
  /** How many batches had each size: `batchSizes[n]` = batches of n requests. */
  batchSizes: Record<number, number>;
  /** Mean requests per batch (0 before the first batch). */
  meanBatchSize: number;
  /** Total time spent in batched forwards, in ms (wall time; overlapping batches count each). */
  forwardMs: number;
  /** Requests waiting now. */
  queued: number;
  /** Batches running now. */
  running: number;
}

/** `error.code` of a request turned away because `maxQueue` requests were already waiting. */
export const BATCHER_QUEUE_FULL = 'BATCHER_QUEUE_FULL';
/** `error.code` of a request submitted after, or still queued at, `close()`. */
export const BATCHER_CLOSED = 'BATCHER_CLOSED';

function codedError(message: string, code: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

interface Pending extends RequestData {
  resolve(result: RequestResult): void;
  reject(error: unknown): void;
  /** performance.now() when it was queued. */
  queuedAt: number;
}

/** A private copy of a float32 tensor's values (downloaded when it is on CUDA). */
function copyOf(t: Tensor): Float32Array {
  return t.device === 'cpu' ? t.data.slice() : t.hostData();
}

/**
 * Gathers concurrent `run(input, state?)` calls on one RNN, LSTM or GRU into packed batches. Create it with
 * `dynamicBatcher(module, options)`. Inputs are unbatched sequences `[steps, inputSize]` of any length (whatever
 * the module's `batchFirst`); each promise resolves with that request's own output and final state, equal within
 * float32 rounding to `module.forward(input, state)` on it alone (not bit for bit; a bfloat16 module on the CPU
 * gives float32 results for the float32 requests, equal within bfloat16 rounding). A batch whose forward throws
 * rejects each of its requests with that error; other batches are unaffected.
 */
export class DynamicBatcher<S extends SessionState = SessionState> {
  readonly module: RecurrentModule;
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  readonly maxQueue: number;
  readonly concurrency: number;
  #queue: Pending[] = [];
  #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #counts = { submitted: 0, completed: 0, failed: 0, rejected: 0, batches: 0, forwardMs: 0 };
  #batchSizes: Record<number, number> = {};

  constructor(module: RecurrentModule, options?: DynamicBatcherOptions) {
    if (!(module instanceof RNN || module instanceof LSTM || module instanceof GRU)) {
      throw new TypeError(`Expected an RNN, LSTM or GRU module for dynamicBatcher() but received ${describe(module)}`);
    }
    const o = checkOptions('dynamicBatcher options', options, ['maxBatch', 'maxDelayMs', 'maxQueue', 'concurrency']);
    this.module = module;
    this.maxBatch = o.maxBatch === undefined ? 32 : checkInteger('maxBatch', o.maxBatch);
    this.maxDelayMs = o.maxDelayMs === undefined ? 2 : checkNumberInRange('maxDelayMs', o.maxDelayMs, 0, 2 ** 31 - 1);
    this.maxQueue = o.maxQueue === undefined ? 1024 : checkInteger('maxQueue', o.maxQueue);
    this.concurrency = o.concurrency === undefined ? 1 : checkInteger('concurrency', o.concurrency);
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues one sequence `input` `[steps, inputSize]` with an optional starting state (h `[layers * directions,
   * outSize]`, or `[h, c]` for LSTM; zeros when omitted). The input and state are copied now, so the caller may
   * reuse or dispose them. Bad arguments reject with a TypeError/RangeError before anything is queued.
   */
  run(input: Tensor, initialState?: S | null): Promise<BatchedResult<S>> {
    let data: RequestData;
    try {
      data = this.#check(input, initialState);
      if (this.#closed) throw codedError('DynamicBatcher is closed: no new requests are accepted', BATCHER_CLOSED);
      if (this.#queue.length >= this.maxQueue) {
        throw codedError(`DynamicBatcher queue is full: ${this.maxQueue} requests are already waiting (maxQueue); retry later`, BATCHER_QUEUE_FULL);
      }
    } catch (e) {
      if ((e as { code?: string }).code !== undefined) this.#counts.rejected++;
      return Promise.reject(e);
    }
    const lstm = this.module instanceof LSTM;
    return new Promise<RequestResult>((resolve, reject) => {
      this.#queue.push({ ...data, resolve, reject, queuedAt: performance.now() });
      this.#counts.submitted++;
      this.#pump('submit');
    }).then((r) => ({ output: r.output, state: (lstm ? [r.h, r.c as Tensor] : r.h) as S }));
  }

  /** Counters since creation, and the queue and running batches now. */
  stats(): DynamicBatcherStats {
    const { batches } = this.#counts;
    const batched = Object.entries(this.#batchSizes).reduce((n, [size, count]) => n + Number(size) * count, 0);
    return {
      ...this.#counts,
      batchSizes: { ...this.#batchSizes },
      meanBatchSize: batches === 0 ? 0 : batched / batches,
      queued: this.#queue.length,
      running: this.#running.size,
    };
  }

  /**
   * Stops accepting requests, rejects those still queued (code BATCHER_CLOSED) and resolves once the batches
   * already running have settled (their requests get their results). Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#disarm();
    const dropped = this.#queue.splice(0);
    this.#counts.rejected += dropped.length;
    const error = codedError(`DynamicBatcher was closed before this request ran (${dropped.length} queued request(s) dropped)`, BATCHER_CLOSED);
    for (const r of dropped) r.reject(error);
    this.#closing = Promise.all([...this.#running]).then(() => undefined);
    return this.#closing;
  }

  #check(input: unknown, state: unknown): RequestData {
    const m = this.module;
    const x = checkTensor('input', input);
    if (x.ndim !== 2 || x.shape[1] !== m.inputSize || x.shape[0] < 1) {
      throw new RangeError(`Expected input of shape [steps >= 1, inputSize = ${m.inputSize}] (one unbatched sequence) but received shape ${shapeText(x.shape)}`);
    }
    if (m.training && m.dropout > 0 && m.numLayers > 1) {
      throw new Error(`DynamicBatcher: the ${m.constructor.name} is in training mode with dropout ${m.dropout}, so results would depend on the batch; call module.eval() first`);
    }
    const data: RequestData = { input: copyOf(x), steps: x.shape[0], h0: null, c0: null };
    if (state === undefined || state === null) return data;
    const { rows, outSize, hiddenSize } = stateSizes(m);
    const checkState = (name: string, value: unknown, size: number): Float32Array => {
      const t = checkTensor(name, value);
      if (t.ndim !== 2 || t.shape[0] !== rows || t.shape[1] !== size) {
        throw new RangeError(`Expected ${name} of shape ${shapeText([rows, size])} (layers * directions, size) but received shape ${shapeText(t.shape)}`);
      }
      return copyOf(t);
    };
    if (m instanceof LSTM) {
      if (!Array.isArray(state) || state.length !== 2) {
        throw new TypeError(`Expected initialState to be a pair [h0, c0] of Tensors for LSTM but received ${describe(state)}`);
      }
      data.h0 = checkState('initialState[0]', state[0], outSize);
      data.c0 = checkState('initialState[1]', state[1], hiddenSize);
    } else {
      data.h0 = checkState('initialState', state, outSize);
    }
    return data;
  }

  /**
   * Starts batches while a slot is free and the oldest request's batch is due: full, or its delay is over.
   * A 'timer' or 'finished' trigger makes the first batch due whatever the clock says; a 'submit' never starts a
   * batch that is not full (even with maxDelayMs 0 the timer decides, so requests of one tick share a batch).
   * Otherwise arms the timer.
   */
  #pump(trigger: 'submit' | 'timer' | 'finished'): void {
    let force = trigger !== 'submit';
    while (!this.#closed && this.#running.size < this.concurrency && this.#queue.length > 0) {
      const late = trigger !== 'submit' && performance.now() >= this.#queue[0].queuedAt + this.maxDelayMs;
      const due = force || late || this.#queue.length >= this.maxBatch;
      if (!due) {
        this.#arm();
        return;
      }
      force = false;
      this.#disarm();
      this.#start(this.#queue.splice(0, this.maxBatch));
    }
  }

  #arm(): void {
    if (this.#timer !== null) return;
    // a timer even for maxDelayMs 0, so requests submitted in the same tick share a batch
    const wait = Math.max(0, this.#queue[0].queuedAt + this.maxDelayMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#pump('timer');
    }, wait);
  }

  #disarm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #start(batch: Pending[]): void {
    this.#counts.batches++;
    this.#batchSizes[batch.length] = (this.#batchSizes[batch.length] ?? 0) + 1;
    const started = performance.now();
    // the next batch starts before this one's requests are resolved: their continuations (a server writing JSON
    // answers) then overlap the next forward instead of holding it back
    const settle = (): void => {
      this.#counts.forwardMs += performance.now() - started;
      this.#running.delete(done);
      this.#pump('finished');
    };
    const done: Promise<void> = forwardBatch(this.module, batch).then(
      (results) => {
        settle();
        this.#counts.completed += batch.length;
        batch.forEach((r, i) => r.resolve(results[i]));
      },
      (error: unknown) => {
        settle();
        this.#counts.failed += batch.length;
        for (const r of batch) r.reject(error);
      },
    );
    this.#running.add(done);
  }
}

/**
 * A `DynamicBatcher` over `module` (RNN, LSTM or GRU): `run(input, state?)` returns that request's
 * `{ output, state }`, computed in a packed batch with the requests that arrived around the same time.
 */
export function dynamicBatcher(module: LSTM, options?: DynamicBatcherOptions): DynamicBatcher<LSTMState>;
export function dynamicBatcher(module: RNN | GRU, options?: DynamicBatcherOptions): DynamicBatcher<Tensor>;
export function dynamicBatcher(module: RecurrentModule, options?: DynamicBatcherOptions): DynamicBatcher;
export function dynamicBatcher(module: RecurrentModule, options?: DynamicBatcherOptions): DynamicBatcher {
  return new DynamicBatcher(module, options);
}
