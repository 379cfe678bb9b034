// Runs of modules quantized by quantizeDynamic, shared by test/cpu-int8.test.ts and test/simd-levels.test.ts:
// every PyTorch reference case and the three training runs' final models, quantized and run on their inputs, with
// the float32 module's results beside them; and a digest of every quantized result, which must be the same bits
// at every instruction-set level (the int32 sums are exact and the float epilogue is the same code).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  GRU, LSTM, Module, PackedSequence, RNN, Tensor, getNumThreads, loadSafetensors, manualSeed, noGrad, packPaddedSequence, quantizeDynamic, randn,
  setNumThreads,
} from '../../lib/index';
import { Fixture, buildModule, fixtureNames, loadFixture } from './fixtures';
import { ON_CPU, RESULT_KEYS, Results, forwardCase } from './forward';
import { TRAINING_DIR, prefixed, trainingModel } from './training-models';

export interface ErrorStats {
  max: number;
  sum: number;
  n: number;
}

export const emptyStats = (): ErrorStats => ({ max: 0, sum: 0, n: 0 });

/** Adds |ours - ref| of every element to `stats` (a non-finite result counts as an infinite error). */
export function addAbsErrors(stats: ErrorStats, ours: Tensor, ref: Tensor): void {
  if (ours.shape.join() !== ref.shape.join()) throw new Error(`shape [${ours.shape}] != reference [${ref.shape}]`);
  for (let i = 0; i < ref.numel; i++) {
    const d = Number.isFinite(ours.data[i]) ? Math.abs(ours.data[i] - ref.data[i]) : Infinity;
    stats.max = Math.max(stats.max, d);
    stats.sum += d;
  }
  stats.n += ref.numel;
}

export const meanOf = (s: ErrorStats): number => (s.n === 0 ? 0 : s.sum / s.n);

/** The group a reference case's errors are reported under: module, nonlinearity, projections. */
export function groupOf(f: Fixture): string {
  const c = f.config;
  return `${c.module}${c.nonlinearity === 'relu' ? '-relu' : ''}${c.proj_size ? '-proj' : ''}`;
}

export interface FixtureRun {
  f: Fixture;
  quantized: Module;
  /** The float32 module's results and the quantized module's (sync), in RESULT_KEYS order. */
  float: Results;
  int8: Results;
  runAsync(): Promise<Results>;
}

export function fixtureRun(file: string): FixtureRun {
  const f = loadFixture(file);
  const module = buildModule(f);
  module.loadStateDict(Object.fromEntries(module.namedParameters().map(([name]) => [name, f.tensors[name]])));
  const float = noGrad(() => forwardCase(f, module, ON_CPU).run());
  const quantized = quantizeDynamic(module);
  const c = forwardCase(f, quantized, ON_CPU);
  return { f, quantized, float, int8: c.run(), runAsync: () => c.runAsync() };
}

export const trainingNames = (): string[] =>
  fs.readdirSync(TRAINING_DIR).filter((f) => f.endsWith('.safetensors')).sort().map((f) => f.replace(/\.safetensors$/, ''));

/** A training run's final model (PyTorch's final weights) and its quantized copy on the run's data. */
export function trainingRun(name: string): { float: Tensor; int8: Tensor; quantized: Module } {
  const t = loadSafetensors(path.join(TRAINING_DIR, `${name}.safetensors`));
  const { model, run } = trainingModel(name, t);
  model.loadStateDict(prefixed(t, 'final.'));
  model.eval();
  const quantized = quantizeDynamic(model);
  return { float: noGrad(() => run(model)), int8: run(quantized), quantized };
}

/** Decreasing lengths from T down to about T / B for a packed batch of B. */
const shrinking = (T: number, B: number) => Array.from({ length: B }, (_, i) => Math.max(1, T - Math.floor((i * T) / B)));

/**
 * Shapes for the thread team, the chunked input projection, both layouts, packed rows and both directions; from
 * batch 16 the members split the batch's rows instead of the units (int8_forward.cpp), packed batches included
 * (with lengths, the input is packed: [T, B, I], or [B, T, I] when the module is batchFirst).
 */
export function teamCases(): [string, () => Module, number[], number[]?][] {
  return [
    ['rows apart: LSTM H256 I64, packed batch 33, 20 steps (projection chunks of 3)', () => new LSTM({ inputSize: 64, hiddenSize: 256 }), [20, 33, 64], shrinking(20, 33)],
    ['rows apart: LSTM H96 P40 I33 batchFirst bidirectional 2 layers, packed batch 17', () => new LSTM({ inputSize: 33, hiddenSize: 96, projSize: 40, batchFirst: true, bidirectional: true, numLayers: 2 }), [17, 11, 33], shrinking(11, 17)],
    ['rows apart: GRU H512 I24 bidirectional, batch 32', () => new GRU({ inputSize: 24, hiddenSize: 512, bidirectional: true }), [6, 32, 24]],
    ['rows apart: RNN tanh H64 I17, packed batch 20', () => new RNN({ inputSize: 17, hiddenSize: 64 }), [10, 20, 17], shrinking(10, 20)],
    ['LSTM H96 P40 I33 bidirectional, batch 7', () => new LSTM({ inputSize: 33, hiddenSize: 96, projSize: 40, bidirectional: true }), [9, 7, 33]],
    ['LSTM H128 I40 2 layers, batch 16, 40 steps (3 projection chunks)', () => new LSTM({ inputSize: 40, hiddenSize: 128, numLayers: 2 }), [40, 16, 40]],
    ['GRU H80 I50 batchFirst bidirectional, batch 5', () => new GRU({ inputSize: 50, hiddenSize: 80, batchFirst: true, bidirectional: true }), [5, 7, 50]],
    ['GRU H72 I9, batch 1', () => new GRU({ inputSize: 9, hiddenSize: 72 }), [12, 1, 9]],
    ['RNN relu H64 I17, batch 9', () => new RNN({ inputSize: 17, hiddenSize: 64, nonlinearity: 'relu' }), [10, 9, 17]],
    ['RNN tanh H100 I3, 3 layers, batch 3', () => new RNN({ inputSize: 3, hiddenSize: 100, numLayers: 3 }), [7, 3, 3]],
  ];
}

/** The float32 and quantized results of a team case (seeded), on `threads` threads. */
export function teamRun(make: () => Module, shape: number[], threads: number, lengths?: number[]): { float: Tensor[]; int8: Tensor[] } {
  const before = getNumThreads();
  try {
    manualSeed(21);
    const module = make() as LSTM;
    const padded = randn(shape);
    const x = lengths ? packPaddedSequence(padded, lengths, { batchFirst: module.batchFirst }) : padded;
    setNumThreads(threads);
    const flat = ([out, h]: [Tensor | PackedSequence, Tensor | Tensor[]]) => [out instanceof PackedSequence ? out.data : out, ...(Array.isArray(h) ? h : [h])];
    const run = (m: LSTM) => (x instanceof PackedSequence ? m.forward(x) : m.forward(x));
    return { float: flat(noGrad(() => run(module))), int8: flat(run(quantizeDynamic(module))) };
  } finally {
    setNumThreads(before);
  }
}

/** sha256 of the shapes and bytes of `tensors`, in order. */
export function digestOf(tensors: readonly Tensor[]): string {
  const hash = createHash('sha256');
  for (const t of tensors) {
    hash.update(`[${t.shape.join(',')}]`);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest('hex');
}

/** Every quantized result above (reference cases, training models, team cases on 2 threads), digested. */
export function int8Digest(): string {
  const tensors: Tensor[] = [];
  for (const file of fixtureNames()) {
    const { int8 } = fixtureRun(file);
    for (const key of RESULT_KEYS) if (int8[key]) tensors.push(int8[key]);
  }
  for (const name of trainingNames()) tensors.push(trainingRun(name).int8);
  for (const [, make, shape, lengths] of teamCases()) tensors.push(...teamRun(make, shape, 2, lengths).int8);
  return digestOf(tensors);
}
