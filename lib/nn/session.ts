// Streaming: a session carries one sequence's recurrent state (h, or [h, c] for LSTM) across chunks, so that a
// server can feed a long sequence piece by piece as it arrives. Feeding chunks x1, x2, ... gives the outputs and
// final state of one forward over cat([x1, x2, ...]) along the time axis, equal within float32 rounding (often bit
// for bit, but a matrix product over a chunk's rows may round differently from one over the whole sequence).
import { noGrad } from '../autograd/grad-mode';
import { describe } from '../checks';
import { Tensor, checkTensor } from '../tensor';
import { GRU } from './gru';
import { LSTM, LSTMState } from './lstm';
import { RNN } from './rnn';

export type RecurrentModule = RNN | LSTM | GRU;
export type SessionState = Tensor | LSTMState;

/** The batch size of a chunk, or -1 for an unbatched (2-D) chunk; null when the rank is wrong (forward says why). */
function batchOf(module: RecurrentModule, chunk: Tensor): number | null {
  if (chunk.ndim === 2) return -1;
  if (chunk.ndim === 3) return module.batchFirst ? chunk.shape[0] : chunk.shape[1];
  return null;
}

function batchText(batch: number): string {
  return batch < 0 ? 'an unbatched (2-D) chunk' : `batch size ${batch}`;
}

/** Checks the form of a starting state (its shape is checked by forward, against the first chunk). */
function checkInitialState(module: RecurrentModule, initialState: unknown): void {
  if (module instanceof LSTM) {
    if (!Array.isArray(initialState) || initialState.length !== 2) {
      throw new TypeError(`Expected initialState to be a pair [h0, c0] of Tensors for LSTM but received ${describe(initialState)}`);
    }
    checkTensor('initialState[0]', initialState[0]);
    checkTensor('initialState[1]', initialState[1]);
  } else {
    checkTensor('initialState', initialState);
  }
}

/**
 * One stream's state over a module (the module's weights are shared; sessions do not copy them). Create it with
 * `session(module, initialState?)`. Chunks run without recording a graph. (In training mode with dropout
 * between layers, each chunk draws its own masks, so use eval() for results equal to one whole-sequence call within float32 rounding.)
 */
export class RecurrentSession<S extends SessionState = SessionState> {
  readonly module: RecurrentModule;
  #state: S | null;
  /** The batch size the state was made for (-1 for unbatched); null until known. */
  #batch: number | null = null;
  /** The end of the queue of stepAsync calls. */
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;
  /** Bumped by reset() and dispose(): calls that started earlier do not store their state. */
  #epoch = 0;
  #disposed = false;

  constructor(module: RecurrentModule, initialState?: S | null) {
    if (!(module instanceof RNN || module instanceof LSTM || module instanceof GRU)) {
      throw new TypeError(`Expected an RNN, LSTM or GRU module for session() but received ${describe(module)}`);
    }
    if (module.bidirectional) {
      throw new Error(
        `session(): a bidirectional ${module.constructor.name} cannot stream, since its reverse direction needs the ` +
          'end of the sequence; run forward over the whole sequence instead',
      );
    }
    this.module = module;
    this.#state = null;
    if (initialState !== undefined && initialState !== null) {
      checkInitialState(module, initialState);
      this.#state = initialState;
    }
  }

  /** The current state (h, or [h, c] for LSTM) after the chunks so far; null before the first chunk. */
  get state(): S | null {
    return this.#state;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Number of stepAsync calls queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Runs one chunk (shaped like the module's input: `[T, B, inputSize]`, `[B, T, inputSize]` with batchFirst,
   * or `[T, inputSize]` unbatched) from the current state; returns the chunk's output and keeps the new state.
   */
  step(chunk: Tensor): Tensor {
    this.checkUsable('step');
    if (this.#pending > 0) {
      throw new Error('RecurrentSession.step(): stepAsync calls are still pending on this session; await them first');
    }
    const batch = this.checkChunk(chunk);
    const [output, state] = noGrad(() => this.runSync(chunk));
    this.#state = state;
    if (batch !== null) this.#batch = batch;
    return output;
  }

  /**
   * `step` on the libuv thread pool. Calls on one session run one after another, in call order (each starts
   * from the state the previous one left), so they may be fired without awaiting.
   */
  stepAsync(chunk: Tensor): Promise<Tensor> {
    try {
      this.checkUsable('stepAsync');
      checkTensor('chunk', chunk);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#pending++;
    const run = async (): Promise<Tensor> => {
      try {
        this.checkUsable('stepAsync');
        const batch = this.checkChunk(chunk);
        const epoch = this.#epoch;
        const [output, state] = await this.runAsync(chunk);
        if (epoch === this.#epoch) {
          this.#state = state;
          if (batch !== null) this.#batch = batch;
        }
        return output;
      } finally {
        this.#pending--;
      }
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Starts a new sequence from `initialState` (default: zeros, as forward without hx). Takes effect at once;
   * stepAsync calls still queued start from the new state, and one already running does not store its state.
   */
  reset(initialState?: S | null): void {
    this.checkUsable('reset');
    if (initialState !== undefined && initialState !== null) checkInitialState(this.module, initialState);
    this.#epoch++;
    this.#state = initialState ?? null;
    this.#batch = null;
  }

  /** Drops the state; every later call throws. */
  dispose(): void {
    this.#disposed = true;
    this.#epoch++;
    this.#state = null;
    this.#batch = null;
  }

  private checkUsable(method: string): void {
    if (this.#disposed) throw new Error(`RecurrentSession.${method}(): the session has been disposed`);
  }

  private checkChunk(chunk: Tensor): number | null {
    const t = checkTensor('chunk', chunk);
    const batch = batchOf(this.module, t);
    if (batch !== null && this.#batch !== null && batch !== this.#batch) {
      throw new RangeError(
        `RecurrentSession: expected ${batchText(this.#batch)} like the earlier chunks of this session but got ` +
          `${batchText(batch)} (input shape [${t.shape.join(', ')}]); call reset() to start a new sequence`,
      );
    }
    return batch;
  }

  private runSync(chunk: Tensor): [Tensor, S] {
    const m = this.module;
    const state = this.#state ?? undefined;
    if (m instanceof LSTM) return m.forward(chunk, state as LSTMState | undefined) as [Tensor, S];
    return (m as RNN).forward(chunk, state as Tensor | undefined) as [Tensor, S];
  }

  private async runAsync(chunk: Tensor): Promise<[Tensor, S]> {
    const m = this.module;
    const state = this.#state ?? undefined;
    if (m instanceof LSTM) return (await m.forwardAsync(chunk, state as LSTMState | undefined)) as [Tensor, S];
    return (await (m as RNN).forwardAsync(chunk, state as Tensor | undefined)) as [Tensor, S];
  }
}

/**
 * A streaming session over `module` (RNN, LSTM or GRU, not bidirectional): `step(chunk)` / `stepAsync(chunk)`
 * return each chunk's output and carry the state to the next chunk. `initialState` is h0 (`[h0, c0]` for LSTM).
 */
export function session(module: LSTM, initialState?: LSTMState | null): RecurrentSession<LSTMState>;
export function session(module: RNN | GRU, initialState?: Tensor | null): RecurrentSession<Tensor>;
export function session(module: RecurrentModule, initialState?: SessionState | null): RecurrentSession;
export function session(module: RecurrentModule, initialState?: SessionState | null): RecurrentSession {
  return new RecurrentSession(module, initialState);
}
