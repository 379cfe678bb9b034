// Property-based fuzzing of every public entry point (fast-check): each call returns a correct result or throws
// an Error/TypeError/RangeError with a message; a crash of the native addon would kill mocha and fail the run.
// `npm test` runs a bounded number of cases; FUZZ_RUNS=N runs every property N times (the long run), and
// FUZZ_SEED / FUZZ_PATH replay a failure with the seed and path fast-check prints. The seed is fixed unless
// FUZZ_SEED=random (so `npm test` is deterministic; the long exploring run uses FUZZ_SEED=random FUZZ_RUNS=N).
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { GRU, LSTM, RNN, full, getMemoryLimit, manualSeed, noGrad, setMemoryLimit, setNumThreads, getNumThreads, tensor } from '../lib/index';
import { fuzzParams, totals } from './fuzz/harness';
import { cellProperty, forwardProperty, loadStateDictProperty, moduleOptionsProperty, packedProperty } from './fuzz/modules';
import { backwardProperty, deviceProperty, factoryProperty, fromBufferProperty, opsProperty, tensorProperty } from './fuzz/tensors';
import { safetensorsJunkProperty, safetensorsMutationProperty, safetensorsRandomProperty } from './fuzz/safetensors';
import { itemProperty, sequencesProperty } from './fuzz/sequences';
import { quantizeDynamicProperty, quantizedCallProperty } from './fuzz/quantize';
import { corruptPackedProperty, optimizeForInferenceProperty, preparedBf16CallProperty, preparedCallProperty } from './fuzz/prepared';
import { teamPrecisionProperty } from './fuzz/team-precision';
import { layerStackProperty } from './fuzz/layer-stacks';

describe('fuzz', function () {
  this.timeout(0);
  const limit = getMemoryLimit();
  const threads = getNumThreads();
  const emitWarning = process.emitWarning;
  before(() => {
    manualSeed(0);
    // Huge sizes must meet the limit, not the machine: 64 MiB is far above every valid case generated here.
    setMemoryLimit(64 * 2 ** 20);
    setNumThreads(2);
    // The dropout warning for single-layer modules would print once per generated module.
    process.emitWarning = (() => undefined) as typeof process.emitWarning;
  });
  let mark = { ...totals };
  afterEach(function () {
    if (process.env.FUZZ_VERBOSE) console.log(`        ${this.currentTest?.title}: ${totals.results - mark.results} results, ${totals.errors - mark.errors} refusals`);
    mark = { ...totals };
  });
  after(() => {
    setMemoryLimit(limit);
    setNumThreads(threads);
    process.emitWarning = emitWarning;
    console.log(`      fuzz: ${totals.runs} calls (${totals.results} results, ${totals.errors} refusals)`);
  });

  it('module options', () => fc.assert(moduleOptionsProperty, fuzzParams(600)));
  it('RNN/LSTM/GRU forward and forwardAsync against the float64 reference', () => fc.assert(forwardProperty, fuzzParams(500)));
  it('packed sequences with random lengths', () => fc.assert(packedProperty, fuzzParams(300)));
  it('cells', () => fc.assert(cellProperty, fuzzParams(400)));
  it('padSequence / unpadSequence / packSequence / unpackSequence with random lists', () => fc.assert(sequencesProperty, fuzzParams(300)));
  it('Tensor.item of random shapes', () => fc.assert(itemProperty, fuzzParams(200)));
  it('loadStateDict with random dicts', () => fc.assert(loadStateDictProperty, fuzzParams(200)));
  it('tensor factories', () => fc.assert(factoryProperty, fuzzParams(500)));
  it('device moves', () => fc.assert(deviceProperty, fuzzParams(200)));
  it('fromBuffer with random buffers, offsets and shapes', () => fc.assert(fromBufferProperty, fuzzParams(500)));
  it('tensor() from nested arrays', () => fc.assert(tensorProperty, fuzzParams(400)));
  it('ops and F.*', () => fc.assert(opsProperty, fuzzParams(800)));
  it('backward on random graphs', () => fc.assert(backwardProperty, fuzzParams(300)));
  it('safetensors: mutated files', () => fc.assert(safetensorsMutationProperty, fuzzParams(500)));
  it('safetensors: random bytes', () => fc.assert(safetensorsRandomProperty, fuzzParams(300)));
  it('safetensors: not bytes at all', () => fc.assert(safetensorsJunkProperty, fuzzParams(100)));
  it('quantizeDynamic with random modules and options', () => fc.assert(quantizeDynamicProperty, fuzzParams(300)));
  it('quantized modules called with good and bad inputs against float32', () => fc.assert(quantizedCallProperty, fuzzParams(500)));
  it('optimizeForInference with random modules and options', () => fc.assert(optimizeForInferenceProperty, fuzzParams(300)));
  it('prepared modules called with good and bad inputs: float32 bit for bit', () => fc.assert(preparedCallProperty, fuzzParams(400)));
  it('bfloat16 prepared modules called with good and bad inputs: module.bfloat16() bit for bit', () => fc.assert(preparedBf16CallProperty, fuzzParams(300)));
  it('packed forms with a corrupted header or cut short, given to the addon', () => fc.assert(corruptPackedProperty, fuzzParams(300)));
  it('bfloat16 and int8 CPU forwards at thread-team sizes: near float32, 2 threads = 1 thread bit for bit', () => fc.assert(teamPrecisionProperty, fuzzParams(120)));
  it('stacks at batch 1 (layers or directions at once on two threads): 2 threads = 1 thread bit for bit, near float32', () => fc.assert(layerStackProperty, fuzzParams(150)));

  describe('regressions found by fuzzing', () => {
    it('tensor() converts non-integer numbers to int64 by truncation, as PyTorch does, and refuses non-finite ones', () => {
      // was: "The number 5e-324 cannot be converted to a BigInt because it is not an integer" from BigInt()
      assert.deepEqual(tensor([[0, 5e-324]], undefined, { dtype: 'int64' }).toArray(), [[0n, 0n]]);
      assert.deepEqual(tensor([1.7, -2.5, 3n], undefined, { dtype: 'int64' } as never).toArray(), [1n, -2n, 3n]);
      assert.throws(() => tensor([NaN], undefined, { dtype: 'int64' }), /^RangeError: Expected finite numbers for data of dtype int64 but received NaN$/);
      assert.throws(() => full([2], Infinity, { dtype: 'int64' }), /^RangeError: Expected finite numbers for full's value of dtype int64 but received Infinity$/);
      assert.deepEqual(full([2], -1.9, { dtype: 'int64' }).toArray(), [-1n, -1n]);
    });

    it('NaN in the input gives NaN outputs from that step on (native fastExp had undefined behaviour on NaN)', () => {
      manualSeed(5);
      for (const module of [new LSTM({ inputSize: 2, hiddenSize: 3 }), new GRU({ inputSize: 2, hiddenSize: 3 }), new RNN({ inputSize: 2, hiddenSize: 3 })]) {
        const x = tensor([[[0.5, -1]], [[NaN, 0.25]], [[1, 2]]]);
        const [out] = noGrad(() => (module.forward as unknown as (x: unknown) => [{ toArray(): number[][][] }])(x));
        const rows = out.toArray().map((r) => r[0]);
        assert.ok(rows[0].every(Number.isFinite), `${module.constructor.name} step 0 ${rows[0]}`);
        assert.ok(rows[1].every(Number.isNaN) && rows[2].every(Number.isNaN), `${module.constructor.name} ${JSON.stringify(rows)}`);
      }
    });
  });
});
