// node-rnn's side of a bench row at each CPU precision (bench/ours.ts): the float32 reference is the float32 module's
// output on the row's weights and input; bfloat16 times the converted module on a bfloat16 input; int8 calls the
// library's quantizeDynamic when it has one (here a stand-in that rounds the weights, so the row's plumbing is
// checked before the real one lands) and otherwise says why the row has no time; prepacked and prepacked-bf16 time
// the module optimizeForInference returns (float32, bfloat16).

import { strict as assert } from 'node:assert';
import * as lib from '../lib/index';
import type { Module, Tensor } from '../lib/index';
import type { BenchCase } from '../bench/cases';
import { NO_QUANTIZE_DYNAMIC, prepareOurs, type NodeRnn, type OursCase } from '../bench/ours';

const shape = { T: 4, B: 3, I: 5, H: 6, L: 2, D: 2 as const, P: 0 };
const forwardCase = (precision: BenchCase['precision']): BenchCase => ({ mode: 'LSTM', shape, pass: 'forward', precision });

/** The same LSTM built again from the row's float32 weights. */
function rebuilt(ours: OursCase): lib.LSTM {
  const m = new lib.LSTM({ inputSize: shape.I, hiddenSize: shape.H, numLayers: shape.L, bidirectional: true });
  m.loadStateDict(Object.fromEntries(Object.entries(ours.weights).map(([k, v]) => [k, lib.tensor(Array.from(v)).reshape([...m.stateDict()[k]!.shape])])));
  m.eval();
  return m;
}

const inputOf = (ours: OursCase): Tensor => lib.tensor(Array.from(ours.input)).reshape([shape.T, shape.B, shape.I]);
const outputOf = (m: { forward(x: Tensor): [Tensor, unknown] }, x: Tensor): number[] =>
  Array.from(lib.noGrad(() => m.forward(x))[0].float().data as Float32Array);

/** Rounds each row of every weight matrix to 255 levels, in place: a stand-in for int8 weights. */
function roundRows(module: Module): void {
  for (const [name, p] of module.namedParameters()) {
    if (!name.startsWith('weight')) continue;
    const [rows, cols] = p.shape as [number, number];
    const w = p.data as Float32Array;
    for (let r = 0; r < rows; r++) {
      const row = w.subarray(r * cols, (r + 1) * cols);
      const scale = Math.max(...row.map(Math.abs)) / 127;
      row.forEach((v, i) => (row[i] = Math.round(v / scale) * scale));
    }
  }
}

describe('bench: node-rnn at each CPU precision', () => {
  it('float32: the reference is the float32 module on the row\'s weights and input', () => {
    const ours = prepareOurs(lib as NodeRnn, forwardCase('float32'), 'cpu', 0);
    assert.ok('runner' in ours.timed);
    assert.deepEqual(Array.from(ours.reference!), outputOf(rebuilt(ours), inputOf(ours)));
    assert.deepEqual(Array.from(ours.timed.output()), Array.from(ours.reference!));
  });

  it('bfloat16: the module converted, a bfloat16 input, results widened; the reference stays float32', () => {
    const ours = prepareOurs(lib as NodeRnn, forwardCase('bfloat16'), 'cpu', 0);
    assert.ok('runner' in ours.timed);
    const m = rebuilt(ours);
    assert.deepEqual(Array.from(ours.reference!), outputOf(m, inputOf(ours)));
    m.bfloat16();
    const expected = outputOf(m, inputOf(ours).bfloat16() as unknown as Tensor);
    assert.deepEqual(Array.from(ours.timed.output()), expected);
    assert.notDeepEqual(expected, Array.from(ours.reference!));
  });

  it('prepacked: times the module optimizeForInference returns, whose output is the float32 reference to the bit', () => {
    const calls: Module[] = [];
    const spy = (m: Module) => (calls.push(m), lib.optimizeForInference(m));
    const ours = prepareOurs({ ...lib, optimizeForInference: spy } as NodeRnn, forwardCase('prepacked'), 'cpu', 0);
    assert.ok('runner' in ours.timed);
    assert.equal(calls.length, 1);
    assert.deepEqual(Array.from(ours.timed.output()), Array.from(ours.reference!));
    const failed = prepareOurs({ ...lib, optimizeForInference: () => { throw new Error('no packing\nmore'); } } as NodeRnn, forwardCase('prepacked'), 'cpu', 0);
    assert.deepEqual(failed.timed, { failed: 'optimizeForInference: no packing' });
  });

  it('prepacked-bf16: times optimizeForInference(module, { dtype: \'bfloat16\' }) on a bfloat16 input: module.bfloat16()\'s output to the bit', () => {
    const calls: unknown[] = [];
    const spy = (m: Module, o?: unknown) => (calls.push(o), lib.optimizeForInference(m, o as never));
    const ours = prepareOurs({ ...lib, optimizeForInference: spy } as NodeRnn, forwardCase('prepacked-bf16'), 'cpu', 0);
    assert.ok('runner' in ours.timed);
    assert.deepEqual(calls, [{ dtype: 'bfloat16' }]);
    const m = rebuilt(ours);
    m.bfloat16();
    assert.deepEqual(Array.from(ours.timed.output()), outputOf(m, inputOf(ours).bfloat16() as unknown as Tensor));
    assert.notDeepEqual(Array.from(ours.timed.output()), Array.from(ours.reference!));
  });

  it(`int8 without quantizeDynamic: no time, "${NO_QUANTIZE_DYNAMIC}", the reference still there for the peers`, () => {
    const withoutIt = { ...lib } as Record<string, unknown>;
    delete withoutIt.quantizeDynamic;
    const ours = prepareOurs(withoutIt as NodeRnn, forwardCase('int8'), 'cpu', 0);
    assert.deepEqual(ours.timed, { skipped: NO_QUANTIZE_DYNAMIC });
    assert.deepEqual(Array.from(ours.reference!), outputOf(rebuilt(ours), inputOf(ours)));
  });

  it('int8 with quantizeDynamic: times the module it returns (a stand-in here), or reports its error', () => {
    const calls: unknown[] = [];
    const standIn = (module: Module, options: unknown): Module => {
      calls.push(options);
      roundRows(module);
      return module;
    };
    const ours = prepareOurs({ ...lib, quantizeDynamic: standIn } as NodeRnn, forwardCase('int8'), 'cpu', 0);
    assert.deepEqual(calls, [{ dtype: 'int8' }]);
    assert.ok('runner' in ours.timed);
    const m = rebuilt(ours);
    assert.deepEqual(Array.from(ours.reference!), outputOf(m, inputOf(ours)));
    roundRows(m);
    assert.deepEqual(Array.from(ours.timed.output()), outputOf(m, inputOf(ours)));

    const refusing = (): never => {
      throw new RangeError('int8 needs hiddenSize >= 8\nmore text');
    };
    const failed = prepareOurs({ ...lib, quantizeDynamic: refusing } as NodeRnn, forwardCase('int8'), 'cpu', 0);
    assert.deepEqual(failed.timed, { failed: 'quantizeDynamic: int8 needs hiddenSize >= 8' });
  });
});
