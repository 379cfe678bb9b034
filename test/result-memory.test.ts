// A forward's output, h_n and c_n come from memory that is not zeroed first (lib/cuda.ts allocResultStorage): the
// forward must write every element of them. Here that memory is filled with NaN before each call (setResultPoison),
// and every result must match, bit for bit, the same call on memory that was not poisoned, with no NaN left: over
// the cells, layers, directions, projections, packed sequences, batch-first inputs, the cells, and each
// precision (float32, packed once for inference, bfloat16, int8).
import { strict as assert } from 'node:assert';
import {
  GRU, GRUCell, LSTM, LSTMCell, RNN, Tensor, manualSeed, noGrad, optimizeForInference, packPaddedSequence, quantizeDynamic,
  randn, tensor,
} from '../lib/index';
import { PackedSequence } from '../lib/nn/packing';
import { setResultPoison } from '../lib/cuda';
import { bits } from './helpers/same-bits';

type AnyModule = { forward(...args: unknown[]): unknown };

/** Every tensor in a forward's result (nested arrays, LSTM states, packed sequences). */
function tensorsOf(result: unknown): Tensor[] {
  if (result instanceof Tensor) return [result];
  if (result instanceof PackedSequence) return [result.data as Tensor];
  if (Array.isArray(result)) return result.flatMap(tensorsOf);
  return [];
}

function hasNaN(t: Tensor): boolean {
  const d = t.float().data as Float32Array;
  return d.some((v) => Number.isNaN(v));
}

function sameOnPoisonedMemory(label: string, run: () => unknown): void {
  const plain = tensorsOf(noGrad(run));
  setResultPoison(true);
  let poisoned: Tensor[];
  try {
    poisoned = tensorsOf(noGrad(run));
  } finally {
    setResultPoison(false);
  }
  assert.equal(poisoned.length, plain.length, label);
  assert.ok(plain.length >= 2, `${label}: output and h_n at least`);
  poisoned.forEach((t, i) => {
    assert.ok(!hasNaN(t), `${label}: result ${i} has an element the forward did not write`);
    assert.deepEqual(bits(t), bits(plain[i]), `${label}: result ${i}`);
  });
}

describe('forward results on memory that is not zeroed', function () {
  this.timeout(120000);
  before(() => manualSeed(3));

  const precisions: [string, (m: LSTM | GRU | RNN) => AnyModule, boolean][] = [
    ['float32', (m) => m as unknown as AnyModule, false],
    ['packed once', (m) => optimizeForInference(m) as unknown as AnyModule, false],
    ['bfloat16', (m) => m.bfloat16() as unknown as AnyModule, true],
    ['int8', (m) => quantizeDynamic(m) as unknown as AnyModule, false],
  ];
  const shapes = [
    { T: 7, B: 1, I: 24, H: 40 },
    { T: 5, B: 6, I: 16, H: 48 },
  ];
  for (const [precision, make, half] of precisions) {
    for (const { T, B, I, H } of shapes) {
      for (const bidirectional of [false, true]) {
        it(`${precision}: LSTM (projSize), GRU, RNN, 2 layers, bidirectional ${bidirectional}, ${T}x${B}x${I}, H ${H}`, () => {
          const modules: [string, LSTM | GRU | RNN][] = [
            ['LSTM', new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional })],
            ['LSTM projSize', new LSTM({ inputSize: I, hiddenSize: H, projSize: 8, bidirectional })],
            ['GRU', new GRU({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional })],
            ['RNN relu', new RNN({ inputSize: I, hiddenSize: H, nonlinearity: 'relu', bidirectional })],
          ];
          for (const [name, m] of modules) {
            if (precision === 'packed once' && name === 'RNN relu') continue; // optimizeForInference takes LSTM and GRU
            const mod = make(m);
            const x = randn([T, B, I]);
            const input = half ? x.bfloat16() : x;
            sameOnPoisonedMemory(`${precision} ${name}`, () => mod.forward(input));
          }
        });
      }
    }
    it(`${precision}: packed sequences of unequal lengths, batch-first input`, () => {
      const lstm = new LSTM({ inputSize: 12, hiddenSize: 32, bidirectional: true, batchFirst: true });
      const mod = make(lstm);
      const x = randn([4, 6, 12]);
      const input = half ? x.bfloat16() : x;
      sameOnPoisonedMemory(`${precision} batch-first`, () => mod.forward(input));
      const packed = packPaddedSequence(input, tensor([6, 5, 3, 1]), { batchFirst: true });
      sameOnPoisonedMemory(`${precision} packed`, () => mod.forward(packed));
    });
  }
  it('the cells (float32, bfloat16)', () => {
    for (const half of [false, true]) {
      const lstm = new LSTMCell({ inputSize: 10, hiddenSize: 20 });
      const gru = new GRUCell({ inputSize: 10, hiddenSize: 20 });
      const x = half ? randn([3, 10]).bfloat16() : randn([3, 10]);
      for (const cell of [lstm, gru]) {
        const c = (half ? cell.bfloat16() : cell) as unknown as AnyModule;
        const plain = tensorsOf(noGrad(() => c.forward(x)));
        setResultPoison(true);
        let poisoned: Tensor[];
        try {
          poisoned = tensorsOf(noGrad(() => c.forward(x)));
        } finally {
          setResultPoison(false);
        }
        poisoned.forEach((t, i) => {
          assert.ok(!hasNaN(t));
          assert.deepEqual(bits(t), bits(plain[i]));
        });
      }
    }
  });
});
