// Argument validation: every bad argument is rejected by lib/ with the right error class and message,
// before the native addon is called, and the module keeps working after the error.
import { strict as assert } from 'node:assert';
import {
  GRU, GRUCell, LSTM, LSTMCell, Module, PackedSequence, RNN, RNNCell, Tensor,
  fromBuffer, full, getNumThreads, manualSeed, packPaddedSequence, packSequence, padPackedSequence, padSequence, rand, randn, setNumThreads, tensor,
  unpackSequence, unpadSequence, zeros,
} from '../lib/index';
// Only used to count calls into the addon (a spy), so that "rejected before native code runs" is checked directly.
import { native } from '../lib/binding';
import { ErrorClass, throwsExactly } from './helpers/assertions';

/** Native forward calls seen by the spy (see useNativeSpy). */
const nativeCalls = { sync: 0, async: 0 };
const realForward = native.rnnForward;
const realForwardAsync = native.rnnForwardAsync;

/** Registers, in the enclosing describe, hooks that count calls into the addon and restore it afterwards. */
function useNativeSpy(): void {
  before(() => {
    native.rnnForward = (...args) => {
      nativeCalls.sync++;
      return realForward(...args);
    };
    native.rnnForwardAsync = (...args) => {
      nativeCalls.async++;
      return realForwardAsync(...args);
    };
  });
  after(() => {
    native.rnnForward = realForward;
    native.rnnForwardAsync = realForwardAsync;
  });
}

/** Like throwsExactly, and also checks the addon was never called. */
function rejectsBeforeNative(fn: () => unknown, cls: ErrorClass, message: RegExp): void {
  const before = { ...nativeCalls };
  throwsExactly(fn, cls, message);
  assert.deepEqual(nativeCalls, before, 'the native addon must not be called for a rejected argument');
}

/** Async variant: forwardAsync must throw synchronously or reject, without queueing native work. */
async function rejectsAsyncBeforeNative(fn: () => Promise<unknown>, cls: ErrorClass, message: RegExp): Promise<void> {
  const before = { ...nativeCalls };
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof Error, 'expected forwardAsync to fail');
  assert.equal(error.constructor, cls, `expected ${cls.name} but got ${error.constructor.name}: ${error.message}`);
  assert.match(error.message, message);
  assert.deepEqual(nativeCalls, before, 'the native addon must not be called for a rejected argument');
}

function snapshot(module: Module): Record<string, Float32Array> {
  return Object.fromEntries(module.namedParameters().map(([k, t]) => [k, t.data.slice()]));
}

function assertParamsEqual(module: Module, expected: Record<string, Float32Array>): void {
  const now = snapshot(module);
  assert.deepEqual(Object.keys(now), Object.keys(expected));
  for (const k of Object.keys(expected)) assert.deepEqual(now[k], expected[k], `parameter ${k} changed`);
}

function assertSameTensor(actual: Tensor, expected: Tensor): void {
  assert.deepEqual(actual.shape, expected.shape);
  assert.deepEqual(actual.data, expected.data);
}

describe('errors: constructor options', () => {
  const kinds = [
    ['RNN', (o: any) => new RNN(o)],
    ['LSTM', (o: any) => new LSTM(o)],
    ['GRU', (o: any) => new GRU(o)],
  ] as const;
  const cells = [
    ['RNNCell', (o: any) => new RNNCell(o)],
    ['LSTMCell', (o: any) => new LSTMCell(o)],
    ['GRUCell', (o: any) => new GRUCell(o)],
  ] as const;

  for (const [name, make] of [...kinds, ...cells]) {
    describe(name, () => {
      const cell = name.endsWith('Cell');
      it(cell ? 'rejects non-integer, zero and negative inputSize, non-integer and negative hiddenSize' : 'rejects non-integer, zero and negative inputSize / hiddenSize', () => {
        for (const key of ['inputSize', 'hiddenSize']) {
          const base: Record<string, unknown> = { inputSize: 10, hiddenSize: 20 };
          // a cell's hiddenSize may be 0 (PyTorch's cells allow it), so it is only said to be an integer
          const zeroOk = cell && key === 'hiddenSize';
          throwsExactly(() => make({ ...base, [key]: 1.5 }), TypeError, new RegExp(`^Expected ${zeroOk ? '' : 'positive '}integer for ${key} but received 1\\.5$`));
          throwsExactly(() => make({ ...base, [key]: '10' }), TypeError, new RegExp(`^Expected ${zeroOk ? '' : 'positive '}integer for ${key} but received "10"$`));
          throwsExactly(() => make({ ...base, [key]: NaN }), TypeError, new RegExp(`for ${key} but received NaN`));
          throwsExactly(() => make({ ...base, [key]: undefined }), TypeError, new RegExp(`for ${key} but received undefined`));
          if (zeroOk) {
            throwsExactly(() => make({ ...base, [key]: -3 }), RangeError, new RegExp(`^Expected integer >= 0 for ${key} but received -3$`));
          } else if (cell) {
            throwsExactly(() => make({ ...base, [key]: 0 }), RangeError, new RegExp(`^Expected integer >= 1 for ${key} but received 0$`));
            throwsExactly(() => make({ ...base, [key]: -3 }), RangeError, new RegExp(`^Expected integer >= 1 for ${key} but received -3$`));
          } else {
            // the layers keep PyTorch's ValueError text ("hidden_size must be greater than zero")
            const torchName = key === 'inputSize' ? 'input_size' : 'hidden_size';
            for (const v of [0, -3]) {
              throwsExactly(() => make({ ...base, [key]: v }), RangeError, new RegExp(`^${torchName} must be greater than zero: expected integer >= 1 for ${key} but received ${v}$`));
            }
          }
        }
      });

      it('rejects missing options and an unknown option key', () => {
        throwsExactly(() => make(undefined), TypeError, new RegExp(`^Expected an options object with inputSize and hiddenSize for ${name} but received undefined$`));
        throwsExactly(() => make({ inputSize: 10, hiddenSize: 20, hiddenSise: 3 }), TypeError, new RegExp(`^Unknown option "hiddenSise" for ${name} options; expected one of inputSize, hiddenSize`));
        throwsExactly(() => make(null), TypeError, /Expected an options object for .* but received null/);
        throwsExactly(() => make(42), TypeError, /Expected an options object for .* but received 42/);
      });

      it('rejects a non-boolean bias', () => {
        throwsExactly(() => make({ inputSize: 10, hiddenSize: 20, bias: 1 }), TypeError, /^Expected boolean for bias but received 1$/);
        throwsExactly(() => make({ inputSize: 10, hiddenSize: 20, bias: 'false' }), TypeError, /^Expected boolean for bias but received "false"$/);
      });
    });
  }

  for (const [name, make] of kinds) {
    describe(`${name} layer options`, () => {
      const base = { inputSize: 10, hiddenSize: 20 };
      it('rejects non-integer, zero and negative numLayers', () => {
        throwsExactly(() => make({ ...base, numLayers: 2.5 }), TypeError, /^Expected positive integer for numLayers but received 2\.5$/);
        throwsExactly(() => make({ ...base, numLayers: 0 }), RangeError, /^num_layers must be greater than zero: expected integer >= 1 for numLayers but received 0$/);
        throwsExactly(() => make({ ...base, numLayers: -1 }), RangeError, /^num_layers must be greater than zero: expected integer >= 1 for numLayers but received -1$/);
      });

      it('rejects dropout outside [0, 1] or not a number', () => {
        throwsExactly(() => make({ ...base, numLayers: 2, dropout: -0.1 }), RangeError, /^Expected number in \[0, 1\] for dropout but received -0\.1$/);
        throwsExactly(() => make({ ...base, numLayers: 2, dropout: 1.5 }), RangeError, /^Expected number in \[0, 1\] for dropout but received 1\.5$/);
        throwsExactly(() => make({ ...base, numLayers: 2, dropout: '0.5' }), TypeError, /^Expected number for dropout but received "0\.5"$/);
        throwsExactly(() => make({ ...base, numLayers: 2, dropout: NaN }), TypeError, /^Expected number for dropout but received NaN$/);
        // the bounds themselves are fine
        assert.equal(make({ ...base, numLayers: 2, dropout: 0 }).dropout, 0);
        assert.equal(make({ ...base, numLayers: 2, dropout: 1 }).dropout, 1);
      });

      it('rejects non-boolean batchFirst and bidirectional', () => {
        throwsExactly(() => make({ ...base, batchFirst: 1 }), TypeError, /^Expected boolean for batchFirst but received 1$/);
        throwsExactly(() => make({ ...base, bidirectional: 'yes' }), TypeError, /^Expected boolean for bidirectional but received "yes"$/);
        throwsExactly(() => make({ ...base, bidirectional: null }), TypeError, /^Expected boolean for bidirectional but received null$/);
      });
    });
  }

  it('rejects a nonlinearity other than tanh / relu with PyTorch\'s message (RNN and RNNCell)', () => {
    throwsExactly(() => new RNN({ inputSize: 10, hiddenSize: 20, nonlinearity: 'sigmoid' as never }), RangeError, /^Unknown nonlinearity 'sigmoid'\. Select from 'tanh' or 'relu'\.$/);
    throwsExactly(() => new RNN({ inputSize: 10, hiddenSize: 20, nonlinearity: 'gelu' as never }), RangeError, /^Unknown nonlinearity 'gelu'\. Select from 'tanh' or 'relu'\.$/);
    throwsExactly(() => new RNNCell({ inputSize: 10, hiddenSize: 20, nonlinearity: 'Tanh' as never }), RangeError, /^Unknown nonlinearity 'Tanh'\. Select from 'tanh' or 'relu'\.$/);
    // not a string at all: the wrong kind of value, so a TypeError with the same text
    throwsExactly(() => new RNN({ inputSize: 10, hiddenSize: 20, nonlinearity: 1 as never }), TypeError, /^Unknown nonlinearity 1\. Select from 'tanh' or 'relu'\.$/);
    throwsExactly(() => new RNNCell({ inputSize: 10, hiddenSize: 20, nonlinearity: null as never }), TypeError, /^Unknown nonlinearity null\. Select from 'tanh' or 'relu'\.$/);
    assert.equal(new RNN({ inputSize: 10, hiddenSize: 20, nonlinearity: 'relu' }).nonlinearity, 'relu');
    assert.equal(new RNNCell({ inputSize: 10, hiddenSize: 20 }).nonlinearity, 'tanh');
  });

  it('LSTM with projSize checks hiddenSize > 0 with PyTorch\'s message too', () => {
    throwsExactly(() => new LSTM({ inputSize: 10, hiddenSize: 0, projSize: 2 }), RangeError, /^hidden_size must be greater than zero: expected integer >= 1 for hiddenSize but received 0$/);
  });

  it('rejects nonlinearity on LSTM / GRU / LSTMCell / GRUCell as an unknown option', () => {
    throwsExactly(() => new LSTM({ inputSize: 10, hiddenSize: 20, nonlinearity: 'relu' } as never), TypeError, /^Unknown option "nonlinearity" for LSTM options/);
    throwsExactly(() => new GRUCell({ inputSize: 10, hiddenSize: 20, nonlinearity: 'relu' } as never), TypeError, /^Unknown option "nonlinearity" for GRUCell options/);
  });

  it('rejects projSize >= hiddenSize, negative or non-integer projSize on LSTM', () => {
    throwsExactly(() => new LSTM({ inputSize: 10, hiddenSize: 20, projSize: 20 }), RangeError, /^proj_size has to be smaller than hidden_size: expected projSize < hiddenSize \(20\) but received 20$/);
    throwsExactly(() => new LSTM({ inputSize: 10, hiddenSize: 20, projSize: 25 }), RangeError, /proj_size has to be smaller than hidden_size.*received 25$/);
    throwsExactly(() => new LSTM({ inputSize: 10, hiddenSize: 20, projSize: -1 }), RangeError, /^Expected integer >= 0 for projSize but received -1$/);
    throwsExactly(() => new LSTM({ inputSize: 10, hiddenSize: 20, projSize: 2.5 }), TypeError, /^Expected integer for projSize but received 2\.5$/);
    assert.equal(new LSTM({ inputSize: 10, hiddenSize: 20, projSize: 0 }).projSize, 0);
    assert.equal(new LSTM({ inputSize: 10, hiddenSize: 20, projSize: 19 }).projSize, 19);
  });

  it('rejects projSize on RNN and GRU with PyTorch\'s message', () => {
    throwsExactly(() => new RNN({ inputSize: 10, hiddenSize: 20, projSize: 5 } as never), RangeError, /^proj_size argument is only supported for LSTM, not RNN or GRU$/);
    throwsExactly(() => new GRU({ inputSize: 10, hiddenSize: 20, projSize: 5 } as never), RangeError, /^proj_size argument is only supported for LSTM, not RNN or GRU$/);
  });

  it('rejects projSize on the cells as an unknown option', () => {
    throwsExactly(() => new LSTMCell({ inputSize: 10, hiddenSize: 20, projSize: 5 } as never), TypeError, /^Unknown option "projSize" for LSTMCell options/);
  });
});

describe('errors: layer forward arguments', () => {
  useNativeSpy();
  let rnn: RNN, gru: GRU, lstm: LSTM;
  let x: Tensor;
  const baseline = new Map<string, Tensor>();

  before(() => {
    manualSeed(1);
    rnn = new RNN({ inputSize: 10, hiddenSize: 20, numLayers: 2 });
    gru = new GRU({ inputSize: 10, hiddenSize: 20, numLayers: 2 });
    lstm = new LSTM({ inputSize: 10, hiddenSize: 20, numLayers: 2 });
    x = randn([5, 3, 10]);
    baseline.set('RNN', rnn.forward(x)[0]);
    baseline.set('GRU', gru.forward(x)[0]);
    baseline.set('LSTM', lstm.forward(x)[0]);
  });

  /** After an error the module must still run and give exactly the result it gave before. */
  afterEach(() => {
    assertSameTensor(rnn.forward(x)[0], baseline.get('RNN')!);
    assertSameTensor(gru.forward(x)[0], baseline.get('GRU')!);
    assertSameTensor(lstm.forward(x)[0], baseline.get('LSTM')!);
  });

  it('(the spy sees valid calls, so the "not called" checks below are meaningful)', async () => {
    const before = { ...nativeCalls };
    gru.forward(x);
    await gru.forwardAsync(x);
    assert.deepEqual(nativeCalls, { sync: before.sync + 1, async: before.async + 1 });
  });

  it('rejects 1-D and 4-D input', () => {
    for (const [name, m] of [['RNN', rnn], ['GRU', gru], ['LSTM', lstm]] as const) {
      rejectsBeforeNative(() => (m as RNN).forward(zeros([10])), RangeError, new RegExp(`^${name}: Expected input to be 2D or 3D, got 1D instead$`));
      rejectsBeforeNative(() => (m as RNN).forward(zeros([1, 5, 3, 10])), RangeError, /Expected input to be 2D or 3D, got 4D instead$/);
    }
  });

  it('rejects a wrong feature size', () => {
    for (const m of [rnn, gru, lstm]) {
      rejectsBeforeNative(() => (m as RNN).forward(zeros([5, 3, 11])), RangeError, /^input\.size\(-1\) must be equal to input_size\. Expected 10, got 11$/);
      rejectsBeforeNative(() => (m as RNN).forward(zeros([5, 9])), RangeError, /^input\.size\(-1\) must be equal to input_size\. Expected 10, got 9$/);
    }
  });

  it('rejects empty sequences (an empty batch is valid: see module.test.ts)', () => {
    rejectsBeforeNative(() => rnn.forward(zeros([0, 3, 10])), RangeError, /Expected sequence length to be larger than 0/);
    rejectsBeforeNative(() => gru.forward(zeros([0, 0, 10])), RangeError, /Expected sequence length to be larger than 0/);
  });

  it('an empty batch never reaches native code (sync, async, cells), whatever the device path would be', async () => {
    const before = { ...nativeCalls };
    assert.deepEqual(gru.forward(zeros([5, 0, 10]))[0].shape, [5, 0, 20]);
    assert.deepEqual((await lstm.forwardAsync(zeros([5, 0, 10])))[1][1].shape, [2, 0, 20]);
    assert.deepEqual(new GRUCell({ inputSize: 10, hiddenSize: 3 }).forward(zeros([0, 10])).shape, [0, 3]);
    assert.deepEqual((await new RNNCell({ inputSize: 10, hiddenSize: 0 }).forwardAsync(zeros([4, 10]))).shape, [4, 0]);
    assert.deepEqual(nativeCalls, before);
  });

  it('an empty batch still checks h0 against [L * D, 0, H]', () => {
    rejectsBeforeNative(() => rnn.forward(zeros([5, 0, 10]), zeros([2, 1, 20])), RangeError, /^Expected hidden size \[2, 0, 20\], got \[2, 1, 20\]$/);
  });

  it('rejects wrong h0 shapes for RNN and GRU', () => {
    for (const m of [rnn, gru]) {
      rejectsBeforeNative(() => m.forward(x, zeros([1, 3, 20])), RangeError, /^Expected hidden size \[2, 3, 20\], got \[1, 3, 20\]$/);
      rejectsBeforeNative(() => m.forward(x, zeros([2, 4, 20])), RangeError, /^Expected hidden size \[2, 3, 20\], got \[2, 4, 20\]$/);
      rejectsBeforeNative(() => m.forward(x, zeros([2, 3, 21])), RangeError, /^Expected hidden size \[2, 3, 20\], got \[2, 3, 21\]$/);
    }
  });

  it('rejects wrong h0 / c0 shapes for LSTM as hidden[0] / hidden[1]', () => {
    const ok = zeros([2, 3, 20]);
    rejectsBeforeNative(() => lstm.forward(x, [zeros([1, 3, 20]), ok]), RangeError, /^Expected hidden\[0\] size \[2, 3, 20\], got \[1, 3, 20\]$/);
    rejectsBeforeNative(() => lstm.forward(x, [ok, zeros([2, 3, 19])]), RangeError, /^Expected hidden\[1\] size \[2, 3, 20\], got \[2, 3, 19\]$/);
  });

  it('checks h0 against projSize (h) and hiddenSize (c) on a projected LSTM', () => {
    const proj = new LSTM({ inputSize: 10, hiddenSize: 20, projSize: 5 });
    rejectsBeforeNative(() => proj.forward(x, [zeros([1, 3, 20]), zeros([1, 3, 20])]), RangeError, /^Expected hidden\[0\] size \[1, 3, 5\], got \[1, 3, 20\]$/);
    rejectsBeforeNative(() => proj.forward(x, [zeros([1, 3, 5]), zeros([1, 3, 5])]), RangeError, /^Expected hidden\[1\] size \[1, 3, 20\], got \[1, 3, 5\]$/);
    assert.deepEqual(proj.forward(x, [zeros([1, 3, 5]), zeros([1, 3, 20])])[0].shape, [5, 3, 5]);
  });

  it('rejects h0 whose rank does not match batched / unbatched input', () => {
    rejectsBeforeNative(() => gru.forward(x, zeros([2, 20])), RangeError, /^For batched 3-D input, hx should also be 3-D but got 2-D tensor$/);
    rejectsBeforeNative(() => rnn.forward(zeros([5, 10]), zeros([2, 1, 20])), RangeError, /^For unbatched 2-D input, hx should also be 2-D but got 3-D tensor$/);
    rejectsBeforeNative(() => lstm.forward(zeros([5, 10]), [zeros([2, 1, 20]), zeros([2, 20])]), RangeError, /^For unbatched 2-D input, hx\[0\] should also be 2-D but got 3-D tensor$/);
    rejectsBeforeNative(() => lstm.forward(x, [zeros([2, 3, 20]), zeros([2, 20])]), RangeError, /^For batched 3-D input, hx\[1\] should also be 3-D but got 2-D tensor$/);
  });

  it('rejects an LSTM hx that is not a pair', () => {
    rejectsBeforeNative(() => lstm.forward(x, zeros([2, 3, 20]) as never), TypeError, /^Expected hx to be a pair \[h0, c0\] of Tensors for LSTM but received a Tensor$/);
    rejectsBeforeNative(() => lstm.forward(x, [zeros([2, 3, 20])] as never), TypeError, /^Expected hx to be a pair \[h0, c0\] of Tensors for LSTM but received an array of length 1$/);
    rejectsBeforeNative(() => lstm.forward(x, [zeros([2, 3, 20]), zeros([2, 3, 20]), zeros([2, 3, 20])] as never), TypeError, /but received an array of length 3$/);
    rejectsBeforeNative(() => lstm.forward(x, [null, zeros([2, 3, 20])] as never), TypeError, /^Expected a Tensor for hx\[0\] but received null$/);
  });

  it('rejects non-Tensor input and h0', () => {
    for (const m of [rnn, gru, lstm]) {
      rejectsBeforeNative(() => (m as RNN).forward(5 as never), TypeError, /^Expected a Tensor for input but received 5$/);
      rejectsBeforeNative(() => (m as RNN).forward([[1, 2, 3]] as never), TypeError, /^Expected a Tensor for input but received an array of length 1$/);
      rejectsBeforeNative(() => (m as RNN).forward(new Float32Array(150) as never), TypeError, /^Expected a Tensor for input but received a Float32Array$/);
      rejectsBeforeNative(() => (m as RNN).forward(null as never), TypeError, /^Expected a Tensor for input but received null$/);
      rejectsBeforeNative(() => (m as RNN).forward(undefined as never), TypeError, /^Expected a Tensor for input but received undefined$/);
    }
    rejectsBeforeNative(() => rnn.forward(x, new Float32Array(120) as never), TypeError, /^Expected a Tensor for hx but received a Float32Array$/);
    rejectsBeforeNative(() => gru.forward(x, 0 as never), TypeError, /^Expected a Tensor for hx but received 0$/);
  });

  it('rejects a disposed input and a disposed h0 / c0', () => {
    const gone = x.clone();
    gone.dispose();
    rejectsBeforeNative(() => gru.forward(gone), Error, /^input is a disposed Tensor; it can no longer be used$/);
    const h0 = zeros([2, 3, 20]);
    h0.dispose();
    rejectsBeforeNative(() => rnn.forward(x, h0), Error, /^hx is a disposed Tensor; it can no longer be used$/);
    rejectsBeforeNative(() => lstm.forward(x, [zeros([2, 3, 20]), h0]), Error, /^hx\[1\] is a disposed Tensor/);
  });

  it('rejects an int64 input', () => {
    const ints = tensor(new BigInt64Array(150), [5, 3, 10]);
    rejectsBeforeNative(() => lstm.forward(ints as never), TypeError, /^Expected a floating point Tensor \(float32, float16 or bfloat16\) for input but received dtype int64/);
    rejectsBeforeNative(() => rnn.forward(x, tensor(new BigInt64Array(120), [2, 3, 20]) as never), TypeError, /^Expected a floating point Tensor \(float32, float16 or bfloat16\) for hx but received dtype int64/);
  });

  it('rejects bad arguments in forwardAsync without queueing native work', async () => {
    await rejectsAsyncBeforeNative(() => lstm.forwardAsync(zeros([5, 3, 11])), RangeError, /^input\.size\(-1\) must be equal to input_size\. Expected 10, got 11$/);
    await rejectsAsyncBeforeNative(() => gru.forwardAsync(x, zeros([1, 3, 20])), RangeError, /^Expected hidden size \[2, 3, 20\], got \[1, 3, 20\]$/);
    await rejectsAsyncBeforeNative(() => rnn.forwardAsync(null as never), TypeError, /^Expected a Tensor for input but received null$/);
  });

  it('rejects a hand-made PackedSequence with bad batch sizes or a disposed data tensor', () => {
    const bad = new PackedSequence(zeros([5, 10]), tensor(BigInt64Array.from([2n, 3n])));
    rejectsBeforeNative(() => gru.forward(bad), RangeError, /^Expected integer in \[1, 2\] for input\.batchSizes\[1\] but received 3$/);
    const wrongRows = new PackedSequence(zeros([4, 10]), tensor(BigInt64Array.from([3n, 2n])));
    rejectsBeforeNative(() => lstm.forward(wrongRows), RangeError, /^Expected input\.data to have sum\(batchSizes\) = 5 rows but received 4$/);
    const empty = new PackedSequence(zeros([0, 10]), tensor(new BigInt64Array(0)));
    rejectsBeforeNative(() => rnn.forward(empty), RangeError, /^Expected a non-empty PackedSequence for input$/);
    const gone = zeros([5, 10]);
    gone.dispose();
    rejectsBeforeNative(() => rnn.forward(new PackedSequence(gone, tensor(BigInt64Array.from([3n, 2n])))), Error, /^input\.data is a disposed Tensor/);
    rejectsBeforeNative(() => gru.forward(new PackedSequence(zeros([5, 2, 5]), tensor(BigInt64Array.from([3n, 2n])))), RangeError, /^GRU: Expected packed input data to be 2D, got 3D instead$/);
  });

  it('forwardAsync reports bad arguments as a rejected Promise, never by throwing synchronously', async () => {
    const modules: [string, { forwardAsync(x: Tensor): Promise<unknown> }, Tensor][] = [
      ['RNN', rnn, zeros([5, 3, 11])],
      ['GRU', gru, zeros([5, 3, 11])],
      ['LSTM', lstm, zeros([5, 3, 11])],
      ['RNNCell', new RNNCell({ inputSize: 10, hiddenSize: 20 }), zeros([3, 11])],
      ['GRUCell', new GRUCell({ inputSize: 10, hiddenSize: 20 }), zeros([3, 11])],
      ['LSTMCell', new LSTMCell({ inputSize: 10, hiddenSize: 20 }), zeros([3, 11])],
    ];
    const syncThrows: string[] = [];
    for (const [name, m, bad] of modules) {
      let result: Promise<unknown> | undefined;
      try {
        result = m.forwardAsync(bad);
      } catch {
        syncThrows.push(name);
        continue;
      }
      assert.ok(result instanceof Promise, `${name}.forwardAsync should return a Promise`);
      await assert.rejects(result, RangeError);
    }
    assert.deepEqual(syncThrows, [], `forwardAsync threw synchronously for: ${syncThrows.join(', ')}`);
  });

  it('rejects a disposed parameter with an Error naming it', () => {
    const m = new GRU({ inputSize: 10, hiddenSize: 4 });
    m.stateDict().weight_hh_l0.dispose();
    rejectsBeforeNative(() => m.forward(x), Error, /^parameter weight_hh_l0 of GRU has been disposed$/);
  });
});

describe('errors: cell forward arguments', () => {
  useNativeSpy();
  let rnnCell: RNNCell, gruCell: GRUCell, lstmCell: LSTMCell;
  let x: Tensor;
  const baseline = new Map<string, Tensor>();

  before(() => {
    manualSeed(2);
    rnnCell = new RNNCell({ inputSize: 10, hiddenSize: 20 });
    gruCell = new GRUCell({ inputSize: 10, hiddenSize: 20 });
    lstmCell = new LSTMCell({ inputSize: 10, hiddenSize: 20 });
    x = randn([3, 10]);
    baseline.set('RNNCell', rnnCell.forward(x));
    baseline.set('GRUCell', gruCell.forward(x));
    baseline.set('LSTMCell', lstmCell.forward(x)[0]);
  });

  afterEach(() => {
    assertSameTensor(rnnCell.forward(x), baseline.get('RNNCell')!);
    assertSameTensor(gruCell.forward(x), baseline.get('GRUCell')!);
    assertSameTensor(lstmCell.forward(x)[0], baseline.get('LSTMCell')!);
  });

  it('rejects 0-D and 3-D input', () => {
    rejectsBeforeNative(() => rnnCell.forward(zeros([1, 3, 10])), RangeError, /^RNNCell: Expected input to be 1D or 2D, got 3D instead$/);
    rejectsBeforeNative(() => gruCell.forward(zeros([1, 3, 10])), RangeError, /^GRUCell: Expected input to be 1D or 2D, got 3D instead$/);
    rejectsBeforeNative(() => lstmCell.forward(zeros([1, 3, 10])), RangeError, /^LSTMCell: Expected input to be 1D or 2D, got 3D instead$/);
    rejectsBeforeNative(() => gruCell.forward(tensor(5)), RangeError, /^GRUCell: Expected input to be 1D or 2D, got 0D instead$/);
  });

  it('rejects a wrong input_size', () => {
    rejectsBeforeNative(() => rnnCell.forward(zeros([3, 11])), RangeError, /^input has inconsistent input_size: got 11 expected 10$/);
    rejectsBeforeNative(() => lstmCell.forward(zeros([9])), RangeError, /^input has inconsistent input_size: got 9 expected 10$/);
  });

  it('rejects a batch mismatch between input and hx', () => {
    rejectsBeforeNative(() => gruCell.forward(x, zeros([2, 20])), RangeError, /^Input batch size 3 doesn't match hx batch size 2$/);
    rejectsBeforeNative(() => lstmCell.forward(x, [zeros([3, 20]), zeros([4, 20])]), RangeError, /^Input batch size 3 doesn't match hx\[1\] batch size 4$/);
  });

  it('rejects a wrong hidden size', () => {
    rejectsBeforeNative(() => rnnCell.forward(x, zeros([3, 21])), RangeError, /^hx has inconsistent hidden_size: got 21, expected 20 \(shape \[3, 21\]\)$/);
    rejectsBeforeNative(() => lstmCell.forward(x, [zeros([3, 19]), zeros([3, 20])]), RangeError, /^hx\[0\] has inconsistent hidden_size: got 19, expected 20/);
    rejectsBeforeNative(() => gruCell.forward(zeros([10]), zeros([21])), RangeError, /^hx has inconsistent hidden_size: got 21, expected 20 \(shape \[21\]\)$/);
  });

  it('rejects an hx rank that does not match the input', () => {
    rejectsBeforeNative(() => gruCell.forward(zeros([10]), zeros([1, 20])), RangeError, /^GRUCell: Expected hx to be 1D, got 2D instead$/);
    rejectsBeforeNative(() => rnnCell.forward(x, zeros([20])), RangeError, /^RNNCell: Expected hx to be 2D, got 1D instead$/);
  });

  it('rejects an LSTMCell hx that is not a pair', () => {
    rejectsBeforeNative(() => lstmCell.forward(x, zeros([3, 20]) as never), TypeError, /^Expected hx to be a pair \[h, c\] of Tensors for LSTMCell but received a Tensor$/);
    rejectsBeforeNative(() => lstmCell.forward(x, [zeros([3, 20])] as never), TypeError, /but received an array of length 1$/);
  });

  it('rejects non-Tensor, disposed and int64 arguments', () => {
    rejectsBeforeNative(() => rnnCell.forward(3 as never), TypeError, /^Expected a Tensor for input but received 3$/);
    rejectsBeforeNative(() => rnnCell.forward(new Float32Array(30) as never), TypeError, /^Expected a Tensor for input but received a Float32Array$/);
    rejectsBeforeNative(() => gruCell.forward(null as never), TypeError, /^Expected a Tensor for input but received null$/);
    rejectsBeforeNative(() => gruCell.forward(x, [1, 2] as never), TypeError, /^Expected a Tensor for hx but received an array of length 2$/);
    const gone = x.clone();
    gone.dispose();
    rejectsBeforeNative(() => lstmCell.forward(gone), Error, /^input is a disposed Tensor/);
    const h = zeros([3, 20]);
    h.dispose();
    rejectsBeforeNative(() => gruCell.forward(x, h), Error, /^hx is a disposed Tensor/);
    rejectsBeforeNative(() => rnnCell.forward(tensor(new BigInt64Array(30), [3, 10]) as never), TypeError, /^Expected a floating point Tensor \(float32, float16 or bfloat16\) for input but received dtype int64/);
  });
});

describe('errors: packing', () => {
  const padded = () => randn([5, 3, 2]);

  it('rejects unsorted lengths under enforceSorted (the default)', () => {
    throwsExactly(() => packPaddedSequence(padded(), [3, 5, 2]), RangeError, /^`lengths` array must be sorted in decreasing order when `enforceSorted` is true\. You can pass `enforceSorted: false`/);
    throwsExactly(() => packPaddedSequence(padded(), [3, 5, 2], { enforceSorted: true }), RangeError, /must be sorted in decreasing order/);
    // the same lengths are fine without enforceSorted
    assert.deepEqual(packPaddedSequence(padded(), [3, 5, 2], { enforceSorted: false }).batchSizeList(), [3, 3, 2, 1, 1]);
  });

  it('rejects a zero length, a negative length and a length longer than T', () => {
    throwsExactly(() => packPaddedSequence(padded(), [5, 0, 0]), RangeError, /^Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0 \(lengths\[1\] = 0\)$/);
    throwsExactly(() => packPaddedSequence(padded(), [5, 3, -1]), RangeError, /^Expected integer >= 0 for lengths\[2\] but received -1$/);
    throwsExactly(() => packPaddedSequence(padded(), [6, 3, 2]), RangeError, /^lengths\[0\] = 6 is longer than the input's sequence length 5$/);
    throwsExactly(() => packPaddedSequence(padded(), [5, 2.5, 2]), TypeError, /^Expected integer for lengths\[1\] but received 2\.5$/);
  });

  it('rejects the wrong number of lengths', () => {
    throwsExactly(() => packPaddedSequence(padded(), [5, 3]), RangeError, /^Expected `len\(lengths\)` to be equal to batch_size, but got 2 \(batch_size=3\)$/);
    throwsExactly(() => packPaddedSequence(padded(), [5, 3, 2, 1]), RangeError, /but got 4 \(batch_size=3\)$/);
    // with batchFirst the batch is dimension 0
    throwsExactly(() => packPaddedSequence(randn([3, 5, 2]), [5, 3], { batchFirst: true }), RangeError, /but got 2 \(batch_size=3\)$/);
  });

  it('rejects a non-array lengths and non-Tensor input', () => {
    throwsExactly(() => packPaddedSequence(padded(), 5 as never), TypeError, /^Expected an array of integers or a Tensor for lengths but received 5$/);
    throwsExactly(() => packPaddedSequence(null as never, [1]), TypeError, /^Expected a Tensor for input but received null$/);
    throwsExactly(() => packPaddedSequence(zeros([5]), [5]), RangeError, /Expected input of at least 2 dimensions/);
    throwsExactly(() => packPaddedSequence(padded(), [5, 3, 2], { sorted: true } as never), TypeError, /^Unknown option "sorted" for packPaddedSequence options/);
  });

  it('rejects padPackedSequence totalLength shorter than the longest sequence', () => {
    const packed = packPaddedSequence(padded(), [5, 3, 2]);
    throwsExactly(() => padPackedSequence(packed, { totalLength: 4 }), RangeError, /^Expected total_length to be at least the length of the longest sequence in input, but got total_length=4 and max sequence length being 5$/);
    throwsExactly(() => padPackedSequence(packed, { totalLength: 5.5 }), TypeError, /for totalLength but received 5\.5$/);
    throwsExactly(() => padPackedSequence(packed, { paddingValue: '0' as never }), TypeError, /^Expected number for paddingValue but received "0"$/);
    throwsExactly(() => padPackedSequence(randn([5, 3]) as never), TypeError, /^Expected a PackedSequence for sequence but received a Tensor$/);
    assert.deepEqual(padPackedSequence(packed, { totalLength: 5 })[0].shape, [5, 3, 2]);
  });
});

describe('errors: packing of empty tensors and the sequence-list helpers', () => {
  it('packPaddedSequence of an empty tensor says "Cannot pack empty tensors." (PyTorch\'s text), whatever the lengths', () => {
    throwsExactly(() => packPaddedSequence(zeros([0, 0]), []), RangeError, /^Cannot pack empty tensors\. \(input has shape \[0, 0\]\)$/);
    throwsExactly(() => packPaddedSequence(zeros([5, 0, 3]), [], { enforceSorted: false }), RangeError, /^Cannot pack empty tensors\./);
    throwsExactly(() => packPaddedSequence(zeros([3, 2, 0]), [3, 3]), RangeError, /^Cannot pack empty tensors\./);
    // packSequence of sequences that are all empty reaches the same check
    throwsExactly(() => packSequence([zeros([0, 2]), zeros([0, 2])]), RangeError, /^Cannot pack empty tensors\./);
  });

  it('padPackedSequence of a PackedSequence without steps', () => {
    throwsExactly(() => padPackedSequence(new PackedSequence(zeros([0, 2]), tensor(new BigInt64Array(0)))), RangeError, /^batch_sizes can not be empty$/);
  });

  it('padSequence: the list, its tensors, and the options', () => {
    throwsExactly(() => padSequence([]), RangeError, /^received an empty list of sequences$/);
    throwsExactly(() => padSequence(randn([2, 3]) as never), TypeError, /^Expected an array of Tensors for sequences but received a Tensor$/);
    throwsExactly(() => padSequence([randn([2]), 5] as never), TypeError, /^Expected a Tensor for sequences\[1\] but received 5$/);
    throwsExactly(() => padSequence([randn([2]), tensor(3)]), RangeError, /^Expected sequences\[1\] to have at least 1 dimension \(\[L, \*\]\) but received a 0-d tensor$/);
    throwsExactly(() => padSequence([randn([2, 3]), randn([4, 2])]), RangeError, /^Expected every sequence to have the trailing dimensions of sequences\[0\] \[3\] but sequences\[1\] has shape \[4, 2\]$/);
    throwsExactly(() => padSequence([randn([2]), tensor([1], undefined, { dtype: 'int64' })] as never), TypeError, /^Expected every sequence to have the dtype of sequences\[0\] \(float32\) but sequences\[1\] is int64$/);
    const gone = randn([2]);
    gone.dispose();
    throwsExactly(() => padSequence([randn([2]), gone]), Error, /^sequences\[1\] is a disposed Tensor/);
    throwsExactly(() => padSequence([randn([2])], { paddingSide: 'middle' as never }), RangeError, /^Expected padding_side to be one of left or right, but got middle\.$/);
    throwsExactly(() => padSequence([randn([2])], { paddingSide: 1 as never }), TypeError, /^Expected 'left' or 'right' for paddingSide but received 1$/);
    throwsExactly(() => padSequence([randn([2])], { paddingValue: '0' as never }), TypeError, /^Expected number for paddingValue but received "0"$/);
    throwsExactly(() => padSequence([randn([2])], { batchFirst: 1 as never }), TypeError, /^Expected boolean for batchFirst but received 1$/);
    throwsExactly(() => padSequence([randn([2])], { padding: 0 } as never), TypeError, /^Unknown option "padding" for padSequence options/);
    throwsExactly(() => padSequence([tensor([1], undefined, { dtype: 'int64' })], { paddingValue: NaN }), RangeError, /^Expected a finite paddingValue for int64 sequences but received NaN$/);
    // BigInt64Array would silently wrap 2^63 to -2^63
    throwsExactly(() => padSequence([tensor([1], undefined, { dtype: 'int64' })], { paddingValue: 2 ** 63 }), RangeError, /^paddingValue 9223372036854776000 cannot be converted to type int64 without overflow$/);
  });

  it('packSequence: unsorted lengths under enforceSorted, and its options', () => {
    throwsExactly(() => packSequence([randn([1]), randn([3])]), RangeError, /^`lengths` array must be sorted in decreasing order when `enforceSorted` is true\. You can pass `enforceSorted: false` to packPaddedSequence and\/or packSequence/);
    throwsExactly(() => packSequence([randn([3]), randn([0])]), RangeError, /^Length of all samples has to be greater than 0/);
    throwsExactly(() => packSequence([randn([3])], { batchFirst: true } as never), TypeError, /^Unknown option "batchFirst" for packSequence options; expected one of enforceSorted$/);
  });

  it('unpadSequence / unpackSequence: shapes and lengths', () => {
    throwsExactly(() => unpadSequence(randn([4]), [4]), RangeError, /^Expected padded of at least 2 dimensions/);
    throwsExactly(() => unpadSequence(randn([4, 2]), [4]), RangeError, /^Expected `len\(lengths\)` to be equal to batch_size, but got 1 \(batch_size=2\)$/);
    throwsExactly(() => unpadSequence(randn([4, 2]), [4, 5]), RangeError, /^lengths\[1\] = 5 is longer than the padded sequence length 4$/);
    throwsExactly(() => unpadSequence(randn([2, 4]), [4, 5], { batchFirst: true }), RangeError, /^lengths\[1\] = 5 is longer than the padded sequence length 4$/);
    throwsExactly(() => unpadSequence(randn([4, 2]), [4, -1]), RangeError, /^Expected integer >= 0 for lengths\[1\] but received -1$/);
    throwsExactly(() => unpadSequence(null as never, [1]), TypeError, /^Expected a Tensor for padded but received null$/);
    throwsExactly(() => unpackSequence(randn([4, 2]) as never), TypeError, /^Expected a PackedSequence for packed but received a Tensor$/);
  });
});

describe('errors: tensor factories and views', () => {
  it('rejects a misaligned byteOffset in fromBuffer', () => {
    const buf = Buffer.alloc(64);
    assert.equal(buf.byteOffset % 4, 0);
    throwsExactly(() => fromBuffer(buf, [2, 3], { byteOffset: 1 }), RangeError, /^Expected float32 data aligned to 4 bytes but the tensor would start at byte 1 of its ArrayBuffer/);
    throwsExactly(() => fromBuffer(buf, [2, 3], { byteOffset: 2 }), RangeError, /^Expected float32 data aligned to 4 bytes but the tensor would start at byte 2 /);
    throwsExactly(() => fromBuffer(buf, [2], { byteOffset: 4, dtype: 'int64' }), RangeError, /^Expected int64 data aligned to 8 bytes but the tensor would start at byte 4 /);
    // a Uint8Array view that starts at byte 2 becomes aligned again with byteOffset 2
    const view = new Uint8Array(buf.buffer, buf.byteOffset + 2, 40);
    throwsExactly(() => fromBuffer(view, [2]), RangeError, /would start at byte 2 of its ArrayBuffer \(buffer\.byteOffset 2 \+ byteOffset 0\)/);
    assert.deepEqual(fromBuffer(view, [2], { byteOffset: 2 }).shape, [2]);
    throwsExactly(() => fromBuffer(buf, [2], { byteOffset: -4 }), RangeError, /^Expected integer >= 0 for byteOffset but received -4$/);
  });

  it('rejects a buffer too short for the shape', () => {
    throwsExactly(() => fromBuffer(Buffer.alloc(20), [2, 3]), RangeError, /^Expected a buffer of at least 24 bytes for shape \[2, 3\] at byteOffset 0 but received 20 bytes$/);
    throwsExactly(() => fromBuffer(Buffer.alloc(24), [2, 3], { byteOffset: 4 }), RangeError, /^Expected a buffer of at least 28 bytes for shape \[2, 3\] at byteOffset 4 but received 24 bytes$/);
    assert.equal(fromBuffer(Buffer.alloc(24), [2, 3]).numel, 6);
  });

  it('rejects non-buffers and bad shapes in fromBuffer', () => {
    throwsExactly(() => fromBuffer(new Float32Array(6) as never, [6]), TypeError, /^Expected a Buffer, Uint8Array or ArrayBuffer for buffer but received a Float32Array$/);
    throwsExactly(() => fromBuffer('abc' as never, [1]), TypeError, /for buffer but received "abc"$/);
    throwsExactly(() => fromBuffer(Buffer.alloc(64), [2, 1.5]), TypeError, /^Expected integer for shape\[1\] but received 1\.5$/);
    throwsExactly(() => fromBuffer(Buffer.alloc(64), [2, -1]), RangeError, /^Expected integer >= 0 for shape\[1\] but received -1$/);
    throwsExactly(() => fromBuffer(Buffer.alloc(64), 6 as never), TypeError, /^Expected an array of non-negative integers for shape but received 6$/);
  });

  it('rejects bad tensor() data and shapes', () => {
    throwsExactly(() => tensor('abc' as never), TypeError, /^Expected a nested array, number, Float32Array, Uint16Array or BigInt64Array for data but received "abc"$/);
    throwsExactly(() => tensor([[1, 2], [3]]), RangeError, /^Expected a rectangular nested array for data but dimension 1 has lengths 2 and 1$/);
    throwsExactly(() => tensor([1, 'a'] as never), TypeError, /^Expected numbers in data but received "a"$/);
    throwsExactly(() => tensor([1, 2, 3], [2, 2]), RangeError, /^shape \[2, 2\] is invalid for input of size 3$/);
    throwsExactly(() => tensor(new Float32Array(6), [4]), RangeError, /^shape \[4\] is invalid for input of size 6$/);
    throwsExactly(() => tensor([1, 2], [2.5]), TypeError, /^Expected integer for shape\[0\] but received 2\.5$/);
    throwsExactly(() => tensor(new Float32Array(2), undefined, { dtype: 'int64' }), TypeError, /^Expected dtype float32 for a Float32Array but received int64$/);
    throwsExactly(() => tensor([1], undefined, { dtype: 'float64' as never }), RangeError, /^Expected one of 'float32', 'float16', 'bfloat16', 'int64' for dtype but received "float64"$/);
    throwsExactly(() => new Tensor([1, 2] as never, [2]), TypeError, /^Expected a Float32Array, Uint16Array or BigInt64Array for data but received an array of length 2$/);
  });

  it('rejects bad reshape arguments', () => {
    const t = zeros([2, 3]);
    throwsExactly(() => t.reshape(4), RangeError, /^shape \[4\] is invalid for input of size 6$/);
    throwsExactly(() => t.reshape(4, -1), RangeError, /^shape \[4, -1\] is invalid for input of size 6$/);
    throwsExactly(() => t.reshape(-1, -1), RangeError, /^Expected integer >= 0 for shape\[1\] but received -1$/);
    throwsExactly(() => t.reshape(2.5, 2), TypeError, /^Expected integer for shape\[0\] but received 2\.5$/);
    throwsExactly(() => t.reshape(-2, 3), RangeError, /^Expected integer >= 0 for shape\[0\] but received -2$/);
    throwsExactly(() => t.reshape('6' as never), TypeError, /^Expected integer for shape\[0\] but received "6"$/);
    assert.deepEqual(t.reshape(3, -1).shape, [3, 2]);
  });

  it('rejects bad size(dim) and bad shapes in the fill factories', () => {
    const t = zeros([2, 3]);
    throwsExactly(() => t.size(2), RangeError, /^Expected integer in \[-2, 1\] for dim but received 2$/);
    throwsExactly(() => t.size(-3), RangeError, /^Expected integer in \[-2, 1\] for dim but received -3$/);
    throwsExactly(() => zeros([2, -1]), RangeError, /^Expected integer >= 0 for shape\[1\] but received -1$/);
    throwsExactly(() => full([2], '1' as never), TypeError, /^Expected number for fill value but received "1"$/);
    throwsExactly(() => rand(3 as never), TypeError, /^Expected an array of non-negative integers for shape but received 3$/);
  });

  it('rejects a disposed tensor\'s data, clone and reshape', () => {
    const t = zeros([2, 3]);
    t.dispose();
    throwsExactly(() => t.data, Error, /^Tensor has been disposed; its data can no longer be used$/);
    throwsExactly(() => t.clone(), Error, /^Tensor has been disposed/);
    throwsExactly(() => t.reshape(6), Error, /^Tensor has been disposed/);
  });
});

describe('errors: setNumThreads', () => {
  let previous: number;
  before(() => (previous = getNumThreads()));
  after(() => setNumThreads(previous));

  it('rejects 0, 1.5, a string and a negative count, leaving the count unchanged', () => {
    throwsExactly(() => setNumThreads(0), RangeError, /^Expected integer >= 1 for n but received 0$/);
    throwsExactly(() => setNumThreads(-2), RangeError, /^Expected integer >= 1 for n but received -2$/);
    throwsExactly(() => setNumThreads(1.5), TypeError, /^Expected positive integer for n but received 1\.5$/);
    throwsExactly(() => setNumThreads('x' as never), TypeError, /^Expected positive integer for n but received "x"$/);
    assert.equal(getNumThreads(), previous);
  });
});

describe('errors: loadStateDict', () => {
  function freshGRU(): GRU {
    return new GRU({ inputSize: 4, hiddenSize: 3, numLayers: 2 });
  }

  /** A dict with every key of `m`, the values changed to `fill`, as independent copies. */
  function changedDict(m: Module, fill: number): Record<string, Tensor> {
    return Object.fromEntries(m.namedParameters().map(([k, t]) => [k, full(t.shape, fill)]));
  }

  it('reports missing keys, unexpected keys and a shape mismatch in one Error and changes nothing', () => {
    manualSeed(3);
    const m = freshGRU();
    const before = snapshot(m);
    const dict: Record<string, Tensor> = changedDict(m, 7);
    delete dict.bias_hh_l1;
    dict.weight_extra = zeros([2]);
    dict.weight_hh_l0 = zeros([9, 4]);
    throwsExactly(() => m.loadStateDict(dict), Error, /^Error\(s\) in loading state_dict for GRU:/);
    let message = '';
    try {
      m.loadStateDict(dict);
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /Missing key\(s\) in state_dict: "bias_hh_l1"\./);
    assert.match(message, /Unexpected key\(s\) in state_dict: "weight_extra"\./);
    assert.match(message, /size mismatch for weight_hh_l0: copying a param with shape \[9, 4\] from checkpoint, the shape in current model is \[9, 3\]\./);
    // nothing was partially loaded, even for the keys that matched
    assertParamsEqual(m, before);
  });

  it('reports non-Tensor, int64 and disposed values and changes nothing', () => {
    const m = freshGRU();
    const before = snapshot(m);
    const dict: Record<string, unknown> = changedDict(m, 5);
    dict.weight_ih_l0 = new Float32Array(36);
    dict.bias_ih_l0 = tensor(new BigInt64Array(9), [9]);
    const gone = zeros([9]);
    gone.dispose();
    dict.bias_hh_l0 = gone;
    let message = '';
    try {
      m.loadStateDict(dict as never);
    } catch (e) {
      assert.equal((e as Error).constructor, Error);
      message = (e as Error).message;
    }
    assert.match(message, /Expected a Tensor for weight_ih_l0 but received a Float32Array\./);
    assert.match(message, /dtype mismatch for bias_ih_l0: copying a param of dtype int64/);
    assert.match(message, /bias_hh_l0 is a disposed Tensor\./);
    assertParamsEqual(m, before);
  });

  it('with strict: false returns missing / unexpected keys and loads the keys that match', () => {
    const m = freshGRU();
    const before = snapshot(m);
    const dict: Record<string, Tensor> = changedDict(m, 0.25);
    delete dict.weight_ih_l1;
    delete dict.bias_ih_l0;
    dict.not_a_param = zeros([1]);
    const result = m.loadStateDict(dict, { strict: false });
    assert.deepEqual(result, { missingKeys: ['bias_ih_l0', 'weight_ih_l1'], unexpectedKeys: ['not_a_param'] });
    for (const [k, t] of m.namedParameters()) {
      if (k === 'weight_ih_l1' || k === 'bias_ih_l0') assert.deepEqual(t.data, before[k], `${k} must be left as it was`);
      else assert.ok(t.data.every((v) => v === 0.25), `${k} must be loaded`);
    }
    // the loaded values are copies: changing the dict afterwards does not change the module
    dict.weight_hh_l0.data.fill(9);
    assert.ok(m.stateDict().weight_hh_l0.data.every((v) => v === 0.25));
  });

  it('a strict load of a complete dict returns empty key lists', () => {
    const m = freshGRU();
    assert.deepEqual(m.loadStateDict(changedDict(m, 1)), { missingKeys: [], unexpectedKeys: [] });
    assert.ok(m.parameters().every((p) => p.data.every((v) => v === 1)));
  });

  it('throws on a shape mismatch even with strict: false, and changes nothing', () => {
    const m = freshGRU();
    const before = snapshot(m);
    const dict: Record<string, Tensor> = changedDict(m, 2);
    dict.bias_hh_l1 = zeros([3]);
    throwsExactly(() => m.loadStateDict(dict, { strict: false }), Error, /size mismatch for bias_hh_l1: copying a param with shape \[3\] from checkpoint, the shape in current model is \[9\]\./);
    assertParamsEqual(m, before);
  });

  it('rejects bad dicts and options', () => {
    const m = freshGRU();
    const before = snapshot(m);
    throwsExactly(() => m.loadStateDict(null as never), TypeError, /^Expected an object of Tensors for stateDict but received null$/);
    throwsExactly(() => m.loadStateDict([] as never), TypeError, /^Expected an object of Tensors for stateDict but received an array of length 0$/);
    throwsExactly(() => m.loadStateDict(m.stateDict(), { strict: 'no' } as never), TypeError, /^Expected boolean for strict but received "no"$/);
    throwsExactly(() => m.loadStateDict(m.stateDict(), { strct: false } as never), TypeError, /^Unknown option "strct" for loadStateDict options/);
    assertParamsEqual(m, before);
  });

  it('the module still runs after a failed load, with its old weights', () => {
    manualSeed(4);
    const m = new LSTM({ inputSize: 4, hiddenSize: 3 });
    const x = randn([6, 2, 4]);
    const [expected] = m.forward(x);
    const dict = changedDict(m, 3);
    dict.weight_hh_l0 = zeros([1]);
    assert.throws(() => m.loadStateDict(dict));
    assertSameTensor(m.forward(x)[0], expected);
  });

  it('rejects a bad train() mode', () => {
    const m = freshGRU();
    throwsExactly(() => m.train('yes' as never), TypeError, /^Expected boolean for mode but received "yes"$/);
    assert.equal(m.training, true);
  });
});
