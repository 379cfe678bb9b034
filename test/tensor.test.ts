// Tensors: zero-copy sharing with Buffers and TypedArrays, views, factories, the seeded generator,
// parameter initialisation, int64 tensors, thread settings and PyTorch-style printing.
import { strict as assert } from 'node:assert';
import {
  GRU, LSTM, LSTMCell, RNN,
  fromBuffer, full, getNumThreads, manualSeed, ones, rand, randn, setNumThreads, tensor, zeros,
} from '../lib/index';

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

function variance(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return s / (xs.length - 1);
}

/** Asserts |value - expected| <= 5 standard errors. */
function assertWithin5SE(value: number, expected: number, standardError: number, what: string): void {
  assert.ok(Math.abs(value - expected) <= 5 * standardError, `${what}: ${value} is more than 5 standard errors (${standardError}) from ${expected}`);
}

describe('tensor: zero-copy fromBuffer', () => {
  it('writing the Buffer changes tensor.data, and writing tensor.data changes the Buffer', () => {
    const buf = Buffer.alloc(6 * 4);
    const t = fromBuffer(buf, [2, 3]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    buf.writeFloatLE(1.5, 0);
    buf.writeFloatLE(-2.25, 5 * 4);
    assert.equal(t.data[0], 1.5);
    assert.equal(t.data[5], -2.25);
    assert.deepEqual(t.toArray(), [[1.5, 0, 0], [0, 0, -2.25]]);
    t.data[2] = 3.75;
    assert.equal(buf.readFloatLE(2 * 4), 3.75);
    t.data.fill(0.5);
    for (let i = 0; i < 6; i++) assert.equal(buf.readFloatLE(i * 4), 0.5);
  });

  it('honours byteOffset (in both directions)', () => {
    const buf = Buffer.alloc(40);
    buf.writeFloatLE(99, 4); // before the tensor's start: must not be part of it
    const t = fromBuffer(buf, [4], { byteOffset: 8 });
    assert.equal(t.data.length, 4);
    buf.writeFloatLE(7, 8);
    buf.writeFloatLE(8, 20);
    assert.deepEqual(Array.from(t.data), [7, 0, 0, 8]);
    t.data[1] = -1;
    assert.equal(buf.readFloatLE(12), -1);
    assert.equal(buf.readFloatLE(4), 99);
    assert.equal(buf.readFloatLE(24), 0, 'bytes after the tensor are untouched');
  });

  it('shares a Buffer that is itself a view into a larger ArrayBuffer', () => {
    const whole = new ArrayBuffer(64);
    const slice = Buffer.from(whole, 16, 32);
    const t = fromBuffer(slice, [2, 2], { byteOffset: 4 });
    new DataView(whole).setFloat32(16 + 4, 42, true);
    assert.equal(t.data[0], 42);
    t.data[3] = 5;
    assert.equal(new DataView(whole).getFloat32(16 + 4 + 12, true), 5);
  });

  it('shares an ArrayBuffer, and int64 data through dtype', () => {
    const ab = new ArrayBuffer(32);
    const f = fromBuffer(ab, [8]);
    new Float32Array(ab)[7] = 2.5;
    assert.equal(f.data[7], 2.5);
    const i = fromBuffer(ab, [2], { byteOffset: 16, dtype: 'int64' });
    assert.equal(i.dtype, 'int64');
    new BigInt64Array(ab)[3] = -12n;
    assert.equal(i.data[1], -12n);
  });

  it('a module forward reads the Buffer\'s current contents', () => {
    manualSeed(11);
    const m = new LSTM({ inputSize: 3, hiddenSize: 4 });
    const T = 5, B = 2, I = 3;
    const buf = Buffer.alloc(T * B * I * 4);
    const input = fromBuffer(buf, [T, B, I]);
    const fill = (seed: number): number[] => {
      const values = Array.from({ length: T * B * I }, (_, k) => Math.sin(seed * 7.1 + k * 0.37));
      values.forEach((v, k) => buf.writeFloatLE(v, k * 4));
      return values;
    };

    const first = fill(1);
    const [out1, [h1]] = m.forward(input);
    const [ref1, [refH1]] = m.forward(tensor(Float32Array.from(first), [T, B, I]));
    assert.deepEqual(out1.data, ref1.data);
    assert.deepEqual(h1.data, refH1.data);

    const second = fill(2); // same tensor object, new buffer contents
    const [out2] = m.forward(input);
    const [ref2] = m.forward(tensor(Float32Array.from(second), [T, B, I]));
    assert.deepEqual(out2.data, ref2.data);
    assert.notDeepEqual(out2.data, out1.data, 'the output must follow the buffer\'s new contents');
  });
});

describe('tensor: memory sharing of tensor(), reshape and clone', () => {
  it('tensor(float32Array) shares memory', () => {
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(a, [2, 3]);
    assert.equal(t.data, a);
    a[4] = 50;
    assert.equal((t.toArray() as number[][])[1][1], 50);
    t.data[0] = -1;
    assert.equal(a[0], -1);
    assert.deepEqual(tensor(a).shape, [6]);
  });

  it('tensor(nested) copies', () => {
    const nested = [[1, 2], [3, 4]];
    const t = tensor(nested);
    assert.deepEqual(t.shape, [2, 2]);
    nested[0][0] = 100;
    assert.equal(t.data[0], 1);
    const a = new Float32Array([1, 2, 3]);
    const copy = tensor(Array.from(a));
    a[0] = 9;
    assert.equal(copy.data[0], 1);
  });

  it('tensor(nested, shape) reshapes the copied values; scalars are 0-D', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
    assert.deepEqual(t.toArray(), [[1, 2], [3, 4], [5, 6]]);
    const s = tensor(2.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.numel, 1);
    assert.equal(s.toArray(), 2.5);
    assert.equal(s.ndim, 0);
  });

  it('reshape shares memory and infers -1', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    const r = t.reshape(3, -1);
    assert.deepEqual(r.shape, [3, 2]);
    assert.deepEqual(r.toArray(), [[1, 2], [3, 4], [5, 6]]);
    r.data[5] = 60;
    assert.equal(t.data[5], 60);
    t.data[0] = 10;
    assert.equal(r.data[0], 10);
    assert.deepEqual(t.reshape([-1]).shape, [6]);
    assert.deepEqual(t.view(1, -1, 2).shape, [1, 3, 2]);
    assert.deepEqual(zeros([0, 4]).reshape(2, 0, 3).shape, [2, 0, 3]);
    // a view stays usable after the original handle is disposed
    t.dispose();
    assert.equal(r.data[0], 10);
  });

  it('clone does not share memory', () => {
    const t = tensor([[1, 2], [3, 4]]);
    const c = t.clone();
    assert.notEqual(c.data, t.data);
    assert.notEqual(c.data.buffer, t.data.buffer);
    c.data[0] = 100;
    assert.equal(t.data[0], 1);
    t.data[1] = 200;
    assert.equal(c.data[1], 2);
    assert.deepEqual(c.shape, [2, 2]);
    // a clone of a fromBuffer view copies only the view's elements
    const buf = Buffer.alloc(32);
    const v = fromBuffer(buf, [2], { byteOffset: 8 });
    buf.writeFloatLE(3, 8);
    const vc = v.clone();
    assert.deepEqual(Array.from(vc.data), [3, 0]);
    buf.writeFloatLE(4, 8);
    assert.equal(vc.data[0], 3);
  });

  it('contiguous returns the tensor itself', () => {
    const t = zeros([2, 2]);
    assert.equal(t.contiguous(), t);
  });
});

describe('tensor: shape helpers, toArray and dispose', () => {
  it('toArray nests by shape', () => {
    const t = tensor(Float32Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
    const a = t.toArray() as number[][][];
    assert.equal(a.length, 2);
    assert.equal(a[0].length, 3);
    assert.equal(a[0][0].length, 4);
    assert.equal(a[1][2][3], 23);
    assert.equal(a[1][0][1], 13);
    assert.deepEqual(a[0][1], [4, 5, 6, 7]);
    assert.deepEqual(zeros([2, 0]).toArray(), [[], []]);
  });

  it('size, ndim and numel', () => {
    const t = zeros([2, 3, 4]);
    assert.deepEqual(t.size(), [2, 3, 4]);
    assert.equal(t.size(-1), 4);
    assert.equal(t.size(0), 2);
    assert.equal(t.size(-3), 2);
    assert.equal(t.ndim, 3);
    assert.equal(t.numel, 24);
    assert.equal(t.device, 'cpu');
    assert.ok(Object.isFrozen(t.shape));
  });

  it('size(dim) on a 0-D tensor throws (there is no dimension to ask for)', () => {
    const s = tensor(2.5);
    assert.deepEqual(s.size(), []);
    assert.throws(() => s.size(0), RangeError);
    assert.throws(() => s.size(-1), RangeError);
  });

  it('dispose makes .data throw and marks the tensor disposed', () => {
    const t = ones([3]);
    assert.equal(t.disposed, false);
    t.dispose();
    assert.equal(t.disposed, true);
    assert.throws(() => t.data, { name: 'Error', message: 'Tensor has been disposed; its data can no longer be used' });
    assert.throws(() => t.toArray(), /Tensor has been disposed/);
    assert.equal(t.toString(), 'tensor(<disposed>)');
  });
});

describe('tensor: item and tolist', () => {
  it('item() of a one-element tensor of any shape; float16 / bfloat16 exactly; int64 as a bigint', () => {
    assert.equal(tensor(2.5).item(), 2.5);
    assert.equal(tensor([[[-7.25]]]).item(), -7.25);
    // 0.1 is not a float32: item gives the float32 value, as PyTorch's float32 item() does
    assert.equal(tensor([0.1]).item(), Math.fround(0.1));
    assert.equal(tensor([0.1]).to('float16').item(), 0.0999755859375);
    assert.equal(tensor([0.1]).to('bfloat16').item(), 0.10009765625);
    assert.equal(tensor([[2n ** 62n + 1n]], undefined, { dtype: 'int64' }).item(), 2n ** 62n + 1n);
    // the static types follow the dtype (this compiles only if they do)
    const f: number = tensor([1.5]).item();
    const i: bigint = tensor([7], undefined, { dtype: 'int64' }).item();
    assert.deepEqual([f, i], [1.5, 7n]);
  });

  it('item() of any other number of elements says PyTorch\'s "cannot be converted to Scalar"', () => {
    assert.throws(() => tensor([1, 2]).item(), { name: 'RangeError', message: 'a Tensor with 2 elements cannot be converted to Scalar' });
    assert.throws(() => zeros([0]).item(), { name: 'RangeError', message: 'a Tensor with 0 elements cannot be converted to Scalar' });
    assert.throws(() => zeros([2, 3]).item(), { name: 'RangeError', message: 'a Tensor with 6 elements cannot be converted to Scalar' });
    const gone = tensor([1]);
    gone.dispose();
    assert.throws(() => gone.item(), { name: 'Error', message: 'Tensor has been disposed; its data can no longer be used' });
  });

  it('tolist() nests like toArray: a 0-d tensor gives its number, empty dimensions give empty lists', () => {
    assert.equal(tensor(3).tolist(), 3);
    assert.deepEqual(tensor([[1, 2, 3], [4, 5, 6]]).tolist(), [[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(zeros([0]).tolist(), []);
    assert.deepEqual(zeros([2, 0, 3]).tolist(), [[], []]);
    assert.deepEqual(tensor([1, -2], undefined, { dtype: 'int64' }).tolist(), [1n, -2n]);
    assert.deepEqual(tensor([[1 / 3, 65520]]).to('float16').tolist(), [[0.333251953125, Infinity]]);
    // bfloat16 keeps 8 significant bits: 1/3 -> 171/128 * 2^-2, 3e38 -> 226/128 * 2^127
    assert.deepEqual(tensor([1 / 3, 3e38]).to('bfloat16').tolist(), [(171 / 128) * 2 ** -2, (226 / 128) * 2 ** 127]);
  });
});

describe('tensor: factories', () => {
  it('zeros / ones / full have the shape and values asked for', () => {
    const z = zeros([2, 3]);
    assert.deepEqual(z.shape, [2, 3]);
    assert.equal(z.numel, 6);
    assert.ok(z.data instanceof Float32Array);
    assert.ok(z.data.every((v) => v === 0));
    const o = ones([4]);
    assert.deepEqual(Array.from(o.data), [1, 1, 1, 1]);
    const f = full([2, 2], -3.5);
    assert.deepEqual(f.toArray(), [[-3.5, -3.5], [-3.5, -3.5]]);
    const s = zeros([]);
    assert.deepEqual(s.shape, []);
    assert.equal(s.numel, 1);
    assert.equal(zeros([3, 0]).numel, 0);
  });

  it('zeros / ones / full with dtype int64', () => {
    const z = zeros([3], { dtype: 'int64' });
    assert.equal(z.dtype, 'int64');
    assert.ok(z.data instanceof BigInt64Array);
    assert.deepEqual(Array.from(z.data), [0n, 0n, 0n]);
    assert.deepEqual(Array.from(ones([2], { dtype: 'int64' }).data), [1n, 1n]);
    assert.deepEqual(Array.from(full([2], 7, { dtype: 'int64' }).data), [7n, 7n]);
  });

  it('rand / randn have the shape asked for and fresh values each call', () => {
    const r = rand([3, 4, 5]);
    assert.deepEqual(r.shape, [3, 4, 5]);
    assert.equal(r.data.length, 60);
    const n = randn([7, 2]);
    assert.deepEqual(n.shape, [7, 2]);
    assert.notDeepEqual(rand([16]).data, rand([16]).data);
    assert.equal(new Set(rand([1000]).data).size > 990, true, 'values repeat far too often');
  });

  it('rand is uniform on [0, 1): range, mean 1/2 and variance 1/12', () => {
    manualSeed(1234);
    const n = 100000;
    const x = rand([n]).data;
    let min = Infinity, max = -Infinity;
    for (const v of x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.ok(min >= 0, `min ${min} < 0`);
    assert.ok(max < 1, `max ${max} >= 1`);
    assert.ok(min < 0.001 && max > 0.999, 'the samples should cover [0, 1)');
    assertWithin5SE(mean(x), 0.5, Math.sqrt(1 / 12 / n), 'rand mean');
    // Var of a uniform's square deviation: E[(u-1/2)^4] - (1/12)^2 = 1/80 - 1/144
    assertWithin5SE(variance(x), 1 / 12, Math.sqrt((1 / 80 - 1 / 144) / n), 'rand variance');
    // each tenth of [0, 1) holds about a tenth of the samples
    const bins = new Array(10).fill(0);
    for (const v of x) bins[Math.floor(v * 10)]++;
    for (const c of bins) assertWithin5SE(c / n, 0.1, Math.sqrt(0.1 * 0.9 / n), 'rand decile share');
  });

  it('randn is standard normal: mean 0, variance 1', () => {
    manualSeed(4321);
    const n = 100000;
    const x = randn([n]).data;
    assertWithin5SE(mean(x), 0, 1 / Math.sqrt(n), 'randn mean');
    assertWithin5SE(variance(x), 1, Math.sqrt(2 / n), 'randn variance');
    // about 68.27% within one standard deviation
    let inside = 0;
    for (const v of x) if (Math.abs(v) < 1) inside++;
    assertWithin5SE(inside / n, 0.6827, Math.sqrt(0.6827 * 0.3173 / n), 'randn share within 1 sigma');
    assert.ok(x.every((v) => Number.isFinite(v)));
  });
});

describe('tensor: manualSeed and parameter initialisation', () => {
  it('manualSeed makes rand and randn reproducible', () => {
    manualSeed(42);
    const a = rand([50]).data;
    const an = randn([50]).data;
    manualSeed(42);
    const b = rand([50]).data;
    const bn = randn([50]).data;
    assert.deepEqual(a, b);
    assert.deepEqual(an, bn);
  });

  it('different seeds give different sequences', () => {
    manualSeed(42);
    const a = rand([50]).data;
    manualSeed(43);
    const b = rand([50]).data;
    let same = 0;
    for (let i = 0; i < 50; i++) if (a[i] === b[i]) same++;
    assert.ok(same < 5, `${same} of 50 values equal for different seeds`);
  });

  it('two LSTMs built after manualSeed(7) have identical parameters, other seeds differ', () => {
    const options = { inputSize: 5, hiddenSize: 6, numLayers: 2, bidirectional: true };
    manualSeed(7);
    const a = new LSTM(options);
    manualSeed(7);
    const b = new LSTM(options);
    manualSeed(8);
    const c = new LSTM(options);
    const pa = a.namedParameters(), pb = b.namedParameters(), pc = c.namedParameters();
    for (let i = 0; i < pa.length; i++) {
      assert.deepEqual(pa[i][1].data, pb[i][1].data, `${pa[i][0]} differs for the same seed`);
      assert.notDeepEqual(pa[i][1].data, pc[i][1].data, `${pa[i][0]} equal for different seeds`);
    }
    // and the two same-seed modules compute the same thing
    manualSeed(1);
    const x = randn([4, 2, 5]);
    assert.deepEqual(a.forward(x)[0].data, b.forward(x)[0].data);
  });

  it('the first draws after manualSeed(s) are spread uniformly over seeds', () => {
    const seeds = 200;
    const firstRand: number[] = [];
    const firstWeight: number[] = [];
    for (let s = 0; s < seeds; s++) {
      manualSeed(s);
      firstRand.push(rand([1]).data[0]);
      manualSeed(s);
      firstWeight.push(new LSTMCell({ inputSize: 2, hiddenSize: 4 }).parameters()[0].data[0]);
    }
    assertWithin5SE(mean(firstRand), 0.5, Math.sqrt(1 / 12 / seeds), 'mean of the first rand() over seeds');
    const k = 1 / Math.sqrt(4);
    assertWithin5SE(mean(firstWeight), 0, k / Math.sqrt(3) / Math.sqrt(seeds), 'mean of the first weight over seeds');
  });

  it('module init is uniform in [-1/sqrt(H), 1/sqrt(H)] for layers and cells', () => {
    manualSeed(99);
    for (const [name, module, H] of [
      ['LSTM', new LSTM({ inputSize: 48, hiddenSize: 64, numLayers: 2 }), 64],
      ['GRU', new GRU({ inputSize: 30, hiddenSize: 25, bidirectional: true }), 25],
      ['RNN', new RNN({ inputSize: 100, hiddenSize: 100 }), 100],
      ['LSTMCell', new LSTMCell({ inputSize: 80, hiddenSize: 36 }), 36],
    ] as const) {
      const k = 1 / Math.sqrt(H);
      const all: number[] = [];
      for (const [pname, p] of module.namedParameters()) {
        for (const v of p.data) {
          assert.ok(v >= -k && v <= k, `${name}.${pname} value ${v} outside [-${k}, ${k}]`);
          all.push(v);
        }
      }
      const n = all.length;
      assert.ok(Math.min(...all) < -0.99 * k && Math.max(...all) > 0.99 * k, `${name}: values should fill [-k, k]`);
      assertWithin5SE(mean(all), 0, k / Math.sqrt(3 * n), `${name} init mean`);
      // uniform(-k, k): variance k^2/3; the variance of x^2 is k^4/5 - k^4/9 = 4k^4/45
      assertWithin5SE(variance(all), (k * k) / 3, Math.sqrt(4 / 45 / n) * k * k, `${name} init variance`);
    }
  });

  it('resetParameters re-draws in place (same tensors, new values, same bound)', () => {
    manualSeed(5);
    const m = new GRU({ inputSize: 3, hiddenSize: 9 });
    const tensors = m.parameters();
    const before = tensors.map((t) => t.data.slice());
    m.resetParameters();
    const after = m.parameters();
    after.forEach((t, i) => {
      assert.equal(t, tensors[i]);
      assert.notDeepEqual(t.data, before[i]);
      assert.ok(t.data.every((v) => Math.abs(v) <= 1 / 3));
    });
  });
});

describe('tensor: int64', () => {
  it('tensor(BigInt64Array) is an int64 tensor sharing the array', () => {
    const a = BigInt64Array.from([1n, -2n, 3n, 9007199254740993n]);
    const t = tensor(a, [2, 2]);
    assert.equal(t.dtype, 'int64');
    assert.equal(t.data, a);
    assert.deepEqual(t.toArray(), [[1n, -2n], [3n, 9007199254740993n]]);
    a[0] = 5n;
    assert.equal(t.data[0], 5n);
    assert.equal(t.clone().dtype, 'int64');
    assert.deepEqual(t.reshape(-1).toArray(), [5n, -2n, 3n, 9007199254740993n]);
  });

  it('tensor(nested, undefined, { dtype: "int64" }) converts numbers', () => {
    const t = tensor([[1, 2], [3, 4]], undefined, { dtype: 'int64' });
    assert.equal(t.dtype, 'int64');
    assert.ok(t.data instanceof BigInt64Array);
    assert.deepEqual(t.toArray(), [[1n, 2n], [3n, 4n]]);
  });
});

describe('tensor: threads', () => {
  it('getNumThreads reports setNumThreads(1), then the previous count is restored', () => {
    const previous = getNumThreads();
    assert.ok(Number.isInteger(previous) && previous >= 1);
    try {
      setNumThreads(1);
      assert.equal(getNumThreads(), 1);
      // results do not depend on the thread count beyond float rounding
      manualSeed(3);
      const m = new GRU({ inputSize: 8, hiddenSize: 16 });
      const x = randn([6, 4, 8]);
      const one = m.forward(x)[0].data;
      setNumThreads(previous);
      const many = m.forward(x)[0].data;
      for (let i = 0; i < one.length; i++) assert.ok(Math.abs(one[i] - many[i]) <= 1e-5, `element ${i}: ${one[i]} vs ${many[i]}`);
    } finally {
      setNumThreads(previous);
    }
    assert.equal(getNumThreads(), previous);
  });
});

describe('tensor: printing', () => {
  it('prints like PyTorch', () => {
    assert.equal(tensor([[1, 2], [3, 4]]).toString(), 'tensor([[1., 2.],\n        [3., 4.]])');
    assert.equal(tensor([0.1, -2.5]).toString(), 'tensor([ 0.1000, -2.5000])');
    assert.equal(tensor(3.5).toString(), 'tensor(3.5000)');
    assert.equal(tensor(BigInt64Array.from([1n, 2n, 30n])).toString(), 'tensor([ 1,  2, 30])');
    assert.equal(tensor([1e-5, 1]).toString(), 'tensor([1.0000e-05, 1.0000e+00])');
    assert.equal(String(tensor([[1, 2], [3, 4]])), 'tensor([[1., 2.],\n        [3., 4.]])');
  });
});
