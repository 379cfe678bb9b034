// The forward half of the reference cases, on any device and dtype: run a loaded module's forward and forwardAsync on
// the case's input (packed where the case is), collect every result PyTorch returned and compare them with the
// float64 reference. A Placement says how tensors reach the module and how results come back (identity on the CPU).
import { strict as assert } from 'node:assert';
import { GRU, LSTM, LSTMCell, Module, PackedSequence, RNN, Tensor, packPaddedSequence, padPackedSequence } from '../../lib/index';
import { Fixture, relativeError } from './fixtures';

export type Results = Record<string, Tensor>;
export const RESULT_KEYS = ['output', 'h_n', 'c_n', 'h_out', 'c_out'];

export interface Placement {
  /** A fixture tensor as the module takes it (its device and dtype). */
  place(t: Tensor): Tensor;
  /** The packed input; default: pack the placed input. */
  pack?(input: Tensor, lengths: Tensor, batchFirst: boolean): PackedSequence;
  /** A packed output padded to [T, B, ...]; default: padPackedSequence. */
  pad?(out: PackedSequence, batchFirst: boolean, totalLength: number | undefined): Tensor;
  /** A result as a float32 CPU tensor, checked on the way (its device, dtype). */
  toHost(t: Tensor, key: string): Tensor;
  /** Wraps the sync forward (e.g. noGrad for modules that cannot record). */
  sync?<R>(fn: () => R): R;
}

export const ON_CPU: Placement = { place: (t) => t, toHost: (t) => t };

export interface ForwardCase {
  run(): Results;
  runAsync(): Promise<Results>;
}

/** The case's forward and forwardAsync on `module` (its weights loaded, already where `at` places tensors). */
export function forwardCase(f: Fixture, module: Module, at: Placement): ForwardCase {
  const c = f.config;
  const sync = at.sync ?? (<R>(fn: () => R) => fn());
  const lstm = module instanceof LSTM || module instanceof LSTMCell;
  const hx = (): Tensor | [Tensor, Tensor] | undefined =>
    c.has_h0 ? (lstm ? [at.place(f.f32('h0')), at.place(f.f32('c0'))] : at.place(f.f32('h0'))) : undefined;
  if (module instanceof RNN || module instanceof LSTM || module instanceof GRU) {
    const lengths = f.tensors.lengths as unknown as Tensor;
    const pack = at.pack ?? ((x: Tensor, l: Tensor, batchFirst: boolean) => packPaddedSequence(at.place(x), l as never, { batchFirst, enforceSorted: false }));
    const pad = at.pad ?? ((out: PackedSequence, batchFirst: boolean, totalLength: number | undefined) => padPackedSequence(out, { batchFirst, totalLength })[0]);
    const batchFirst = c.batch_first === true;
    const input = (): Tensor | PackedSequence => (c.packed ? pack(f.f32('input'), lengths, batchFirst) : at.place(f.f32('input')));
    const collect = ([out, h]: [Tensor | PackedSequence, Tensor | [Tensor, Tensor]]): Results => {
      const r: Results = { output: at.toHost(out instanceof PackedSequence ? pad(out, batchFirst, c.seq_len) : out, 'output') };
      if (Array.isArray(h)) {
        r.h_n = at.toHost(h[0], 'h_n');
        r.c_n = at.toHost(h[1], 'c_n');
      } else {
        r.h_n = at.toHost(h, 'h_n');
      }
      return r;
    };
    const m = module as LSTM;
    return {
      run: () => collect(sync(() => m.forward(input() as Tensor, hx() as [Tensor, Tensor]))),
      runAsync: async () => collect(await m.forwardAsync(input() as Tensor, hx() as [Tensor, Tensor])),
    };
  }
  const collect = (h: Tensor | [Tensor, Tensor]): Results =>
    Array.isArray(h) ? { h_out: at.toHost(h[0], 'h_out'), c_out: at.toHost(h[1], 'c_out') } : { h_out: at.toHost(h, 'h_out') };
  const m = module as LSTMCell;
  return {
    run: () => collect(sync(() => m.forward(at.place(f.f32('input')), hx() as [Tensor, Tensor]))),
    runAsync: async () => collect(await m.forwardAsync(at.place(f.f32('input')), hx() as [Tensor, Tensor])),
  };
}

/**
 * Every result PyTorch returned is there, and none other, each within `tolerance` relative error of the reference;
 * returns the worst error. `label` names the run in failure messages.
 */
export function compareForward(f: Fixture, results: Results, tolerance: number, label = f.name): number {
  let worst = 0;
  for (const key of RESULT_KEYS) {
    const ref = f.tensors[key];
    if (!ref) continue;
    assert.ok(results[key], `${label}: no ${key} returned`);
    const err = relativeError(results[key], ref as Tensor);
    worst = Math.max(worst, err);
    assert.ok(err <= tolerance, `${label}: ${key} relative error ${err.toExponential(2)} > ${tolerance}`);
  }
  assert.equal(Object.keys(results).length, RESULT_KEYS.filter((k) => f.tensors[k]).length);
  return worst;
}
