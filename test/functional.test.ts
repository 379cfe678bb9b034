// torch.nn.functional: forward values against hand-computed numbers and independent float64 references,
// reductions and ignoreIndex, dropout statistics, and central-difference gradient checks for every function.
import { strict as assert } from 'node:assert';
import { Tensor, autograd, cuda, manualSeed, noGrad, randn, tensor } from '../lib/index';
import { bceWithLogits, crossEntropy, dropout, embedding, linear, logSoftmax, mseLoss, softmax } from '../lib/nn/functional/index';
import { throwsExactly } from './helpers/assertions';

function ids(values: number[], shape?: number[]): Tensor<'int64'> {
  return tensor(BigInt64Array.from(values, BigInt), shape ?? [values.length]);
}

function scalarId(value: number): Tensor<'int64'> {
  return tensor(BigInt64Array.from([BigInt(value)]), []);
}

function dot(a: Tensor, b: Tensor): number {
  let s = 0;
  for (let i = 0; i < a.numel; i++) s += a.data[i] * b.data[i];
  return s;
}

/** |actual - expected| <= tol * max(1, |expected|) element-wise (float32 results against float64 references). */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6, what = 'value'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])),
      `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`,
    );
  }
}

const EPS = 1e-2;

/**
 * Central differences against backward for every element of every tensor in `wrt` (leaves that require grad,
 * read by `f`). The loss is f() itself when it is a 0-d tensor, else sum(f() * g) for a fixed random g.
 *
 * Tolerance |numeric - analytic| <= 1e-3 + 1e-2 |numeric|: the forward is float32, so each loss value carries a
 * rounding error of about 1e-7 of its size (a few 1e-6 for these O(1..10) losses), which the division by
 * 2 eps = 2e-2 turns into an error of order 1e-4 in the numeric slope; the truncation error of the central
 * difference is eps^2/6 |f'''| ~ 2e-5 |f'''|, relative to the slope well under 1e-2 for these smooth functions of
 * N(0, 1) inputs. A wrong gradient (a missing term or factor) is off by far more than both.
 */
function gradCheck(f: () => Tensor, wrt: Tensor[], what: string): void {
  for (const t of wrt) t.grad = null;
  const out = f();
  const g = out.ndim === 0 ? null : randn(out.shape as number[]);
  if (g) out.backward(g);
  else out.backward();
  const value = (): number => noGrad(() => {
    const y = f();
    return g ? dot(y, g) : y.data[0];
  });
  let nonZero = 0;
  wrt.forEach((t, w) => {
    assert.ok(t.grad, `${what}: input ${w} received a gradient`);
    const analytic = t.grad.data;
    for (let i = 0; i < t.numel; i++) {
      const saved = t.data[i];
      // the perturbed values are float32: divide by the step actually taken
      const hi = Math.fround(saved + EPS);
      const lo = Math.fround(saved - EPS);
      t.data[i] = hi;
      const plus = value();
      t.data[i] = lo;
      const minus = value();
      t.data[i] = saved;
      const numeric = (plus - minus) / (hi - lo);
      assert.ok(
        Math.abs(numeric - analytic[i]) <= 1e-3 + 1e-2 * Math.abs(numeric),
        `${what}: d loss / d input${w}[${i}]: numeric ${numeric}, backward ${analytic[i]}`,
      );
      if (analytic[i] !== 0) nonZero++;
    }
  });
  assert.ok(nonZero > 0, `${what}: the check is not vacuous`);
}

describe('functional', () => {
  describe('linear', () => {
    it('computes x W^T + b (hand-computed values)', () => {
      const x = tensor([[1, 2, 3], [-1, 0, 0.5]]);
      const w = tensor([[1, 0, -1], [0.5, 0.5, 0.5]]);
      const b = tensor([0.1, -0.2]);
      const y = linear(x, w, b);
      assert.deepEqual(y.shape, [2, 2]);
      assertClose(y.data, [1 - 3 + 0.1, 0.5 + 1 + 1.5 - 0.2, -1 - 0.5 + 0.1, -0.5 + 0.25 - 0.2]);
      assertClose(linear(x, w).data, [-2, 3, -1.5, -0.25], 0, 'no bias');
      const v = linear(tensor([1, 2, 3]), w, b);
      assert.deepEqual(v.shape, [2], 'a 1-D input gives a 1-D output');
      assertClose(v.data, [-1.9, 2.8]);
    });

    it('maps [..., in] to [..., out] like a float64 reference', () => {
      manualSeed(10);
      const x = randn([2, 3, 4]);
      const w = randn([5, 4]);
      const b = randn([5]);
      const y = linear(x, w, b);
      assert.deepEqual(y.shape, [2, 3, 5]);
      const expected: number[] = [];
      for (let m = 0; m < 6; m++) {
        for (let o = 0; o < 5; o++) {
          let s = b.data[o];
          for (let k = 0; k < 4; k++) s += x.data[m * 4 + k] * w.data[o * 4 + k];
          expected.push(s);
        }
      }
      assertClose(y.data, expected, 1e-6);
    });

    it('gradients for input, weight and bias match central differences', () => {
      manualSeed(11);
      const x = randn([2, 3, 4]).requiresGrad_();
      const w = randn([5, 4]).requiresGrad_();
      const b = randn([5]).requiresGrad_();
      gradCheck(() => linear(x, w, b), [x, w, b], 'linear');
      const x1 = randn([4]).requiresGrad_();
      gradCheck(() => linear(x1, w), [x1, w], 'linear, 1-D input, no bias');
    });

    it('gives gradients only to what requires grad', () => {
      manualSeed(12);
      const x = randn([3, 4]);
      const w = randn([2, 4]).requiresGrad_();
      const b = randn([2]);
      linear(x, w, b).backward(randn([3, 2]));
      assert.ok(w.grad);
      assert.equal(x.grad, null);
      assert.equal(b.grad, null);
    });

    it('rejects mismatched shapes with PyTorch messages', () => {
      throwsExactly(() => linear(randn([2, 3]), randn([5, 4])), RangeError, /^mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)$/);
      throwsExactly(() => linear(randn([2, 2, 3]), randn([5, 4])), RangeError, /\(4x3 and 4x5\)/);
      throwsExactly(() => linear(tensor(1), randn([5, 4])), RangeError, /need to be at least 1D, but they are 0D and 2D/);
      throwsExactly(() => linear(randn([2, 4]), randn([4])), RangeError, /weight of 2 dimensions/);
      throwsExactly(() => linear(randn([2, 4]), randn([5, 4]), randn([4])), RangeError, /bias of shape \[5\]/);
      throwsExactly(() => linear(ids([1, 2]) as unknown as Tensor, randn([5, 2])), TypeError, /float32 Tensor for input/);
    });
  });

  describe('embedding', () => {
    it('gathers rows into [...indices.shape, dim]', () => {
      manualSeed(20);
      const w = randn([4, 3]);
      const y = embedding(ids([0, 2, 2, 3], [2, 2]), w);
      assert.deepEqual(y.shape, [2, 2, 3]);
      [0, 2, 2, 3].forEach((r, i) => assert.deepEqual(Array.from(y.data.subarray(i * 3, i * 3 + 3)), Array.from(w.data.subarray(r * 3, r * 3 + 3))));
      const one = embedding(scalarId(1), w);
      assert.deepEqual(one.shape, [3]);
      assert.deepEqual(Array.from(one.data), Array.from(w.data.subarray(3, 6)));
      // the padding row is looked up as it is (PyTorch zeroes it only at initialisation)
      w.data[0] = 7;
      assert.equal(embedding(ids([0]), w, 0).data[0], 7);
    });

    it('accumulates the gradient of repeated indices; the paddingIdx row gets none', () => {
      manualSeed(21);
      const w = randn([4, 3]).requiresGrad_();
      const g = randn([5, 3]);
      embedding(ids([1, 1, 3, 1, 0]), w, 0).backward(g);
      const grad = w.grad!.data;
      const row = (r: number) => Array.from(grad.subarray(r * 3, r * 3 + 3));
      const gRow = (i: number) => Array.from(g.data.subarray(i * 3, i * 3 + 3));
      assert.deepEqual(row(0), [0, 0, 0], 'padding row');
      assertClose(row(1), gRow(0).map((v, k) => v + gRow(1)[k] + gRow(3)[k]), 1e-6, 'row 1 = g0 + g1 + g3');
      assert.deepEqual(row(2), [0, 0, 0], 'row 2 never looked up');
      assert.deepEqual(row(3), gRow(2));
      // a negative paddingIdx counts from the end
      w.grad = null;
      embedding(ids([3, 2]), w, -1).backward(randn([2, 3]));
      assert.deepEqual(Array.from(w.grad!.data.subarray(9, 12)), [0, 0, 0]);
      assert.ok(w.grad!.data.subarray(6, 9).some((v) => v !== 0));
    });

    it('the weight gradient matches central differences', () => {
      manualSeed(22);
      const w = randn([5, 3]).requiresGrad_();
      const idx = ids([4, 0, 4, 2, 2, 4], [2, 3]);
      gradCheck(() => embedding(idx, w), [w], 'embedding');
    });

    it('rejects out-of-range indices, non-int64 indices, a bad weight or paddingIdx', () => {
      const w = randn([4, 3]);
      throwsExactly(() => embedding(ids([0, 4]), w), RangeError, /^index out of range in self/);
      throwsExactly(() => embedding(ids([-1]), w), RangeError, /^index out of range in self/);
      throwsExactly(() => embedding(tensor([0, 1]) as unknown as Tensor<'int64'>, w), TypeError, /int64 Tensor for indices/);
      throwsExactly(() => embedding(ids([0]), randn([4])), RangeError, /^'weight' must be 2-D/);
      throwsExactly(() => embedding(ids([0]), w, 4), RangeError, /^Padding_idx must be within num_embeddings/);
      throwsExactly(() => embedding(ids([0]), w, -5), RangeError, /^Padding_idx must be within num_embeddings/);
      throwsExactly(() => embedding(ids([0]), w, 1.5), TypeError, /integer for paddingIdx/);
    });
  });

  describe('dropout', () => {
    it('keeps each element with probability 1-p, survivors scaled by 1/(1-p)', () => {
      manualSeed(30);
      const n = 100000;
      const p = 0.3;
      const y = dropout(tensor(new Float32Array(n).fill(1)), p);
      const scale = Math.fround(1 / Math.fround(1 - p));
      let kept = 0;
      for (const v of y.data) {
        if (v !== 0) {
          assert.equal(v, scale);
          kept++;
        }
      }
      // kept ~ Binomial(n, 1-p): within 5 standard deviations
      const sd = Math.sqrt(n * p * (1 - p));
      assert.ok(Math.abs(kept - n * (1 - p)) <= 5 * sd, `kept ${kept} of ${n}, expected ${n * (1 - p)} +- ${5 * sd}`);
      const x = randn([1000]);
      const z = dropout(x, 0.5);
      z.data.forEach((v, i) => assert.ok(v === 0 || v === Math.fround(x.data[i] * 2), `element ${i}`));
    });

    it('is reproducible under manualSeed; eval mode and p = 0 return the input itself; p = 1 gives zeros', () => {
      const x = randn([50]);
      manualSeed(31);
      const a = dropout(x, 0.4);
      manualSeed(31);
      const b = dropout(x, 0.4);
      assert.deepEqual(Array.from(a.data), Array.from(b.data));
      assert.equal(dropout(x, 0.4, false), x);
      assert.equal(dropout(x, 0), x);
      const byDefault = dropout(x); // p = 0.5, training
      assert.notEqual(byDefault, x);
      assert.ok(byDefault.data.some((v) => v === 0) && byDefault.data.some((v) => v !== 0));
    });

    it('p = 1 gives zeros and zero gradients', () => {
      const x = randn([10]).requiresGrad_();
      const y = dropout(x, 1);
      assert.ok(y.data.every((v) => v === 0));
      y.backward(randn([10]));
      assert.ok(x.grad!.data.every((v) => v === 0));
    });

    it('backward uses the forward mask', () => {
      manualSeed(32);
      const x = randn([2000]).requiresGrad_();
      const y = dropout(x, 0.25);
      const g = randn([2000]);
      y.backward(g);
      const scale = Math.fround(1 / 0.75);
      let dropped = 0;
      y.data.forEach((v, i) => {
        if (v === 0) {
          dropped++;
          assert.ok(x.grad!.data[i] === 0, `dropped element ${i} gets no gradient`); // 0 or -0 (g * 0)
        } else {
          assert.equal(x.grad!.data[i], Math.fround(g.data[i] * scale), `kept element ${i}`);
        }
      });
      assert.ok(dropped > 300 && dropped < 700);
    });

    it('the gradient matches central differences (same seed, same mask)', () => {
      manualSeed(33);
      const x = randn([3, 7]).requiresGrad_();
      gradCheck(() => {
        manualSeed(77);
        return dropout(x, 0.4);
      }, [x], 'dropout');
    });

    it('rejects p outside [0, 1]', () => {
      throwsExactly(() => dropout(randn([2]), 1.5), RangeError, /^dropout probability has to be between 0 and 1, but got 1.5$/);
      throwsExactly(() => dropout(randn([2]), -0.1), RangeError, /but got -0.1$/);
      throwsExactly(() => dropout(randn([2]), '0.5' as unknown as number), TypeError, /number for p/);
      throwsExactly(() => dropout(randn([2]), 0.5, 1 as unknown as boolean), TypeError, /boolean for training/);
    });
  });

  describe('softmax and logSoftmax', () => {
    function reference(x: Tensor, dim: number, log: boolean): number[] {
      const shape = x.shape;
      const d = dim < 0 ? dim + shape.length : dim;
      const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
      const size = shape[d];
      const out = new Array<number>(x.numel);
      for (let i = 0; i < x.numel; i++) {
        const k = Math.floor(i / inner) % size;
        const base = i - k * inner;
        let sum = 0;
        for (let j = 0; j < size; j++) sum += Math.exp(x.data[base + j * inner]);
        out[i] = log ? x.data[i] - Math.log(sum) : Math.exp(x.data[i]) / sum;
      }
      return out;
    }

    it('match a float64 reference along every dimension', () => {
      manualSeed(40);
      const x = randn([2, 3, 4]);
      for (const dim of [0, 1, 2, -1, -3]) {
        assertClose(softmax(x, dim).data, reference(x, dim, false), 1e-6, `softmax dim ${dim}`);
        assertClose(logSoftmax(x, dim).data, reference(x, dim, true), 1e-6, `logSoftmax dim ${dim}`);
      }
      assert.equal(softmax(tensor(3), 0).data[0], 1, '0-d');
      assert.equal(logSoftmax(tensor(3), -1).data[0], 0, '0-d');
    });

    it('are stable for large inputs', () => {
      const big = softmax(tensor([1000, 1001, 1002]), 0);
      assertClose(big.data, reference(tensor([0, 1, 2]), 0, false), 1e-6);
      assertClose(logSoftmax(tensor([-1000, 0]), 0).data, [-1000, 0], 1e-6);
      assertClose(logSoftmax(tensor([[500, 0]]), 1).data, [0, -500], 1e-6);
    });

    it('gradients match central differences', () => {
      manualSeed(41);
      const x = randn([2, 3, 4]).requiresGrad_();
      for (const dim of [0, 1, -1]) {
        gradCheck(() => softmax(x, dim), [x], `softmax dim ${dim}`);
        gradCheck(() => logSoftmax(x, dim), [x], `logSoftmax dim ${dim}`);
      }
    });

    it('reject a missing or out-of-range dim', () => {
      throwsExactly(() => softmax(randn([2, 3]), 2), RangeError, /dim/);
      throwsExactly(() => logSoftmax(randn([2, 3]), undefined as unknown as number), TypeError, /dim/);
    });
  });

  describe('crossEntropy', () => {
    // input [[1, 2, 3], [1, -1, 0]], targets [2, 1]: loss_n = log(sum_c exp(x_nc)) - x_n,t
    const l0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3;
    const l1 = Math.log(Math.exp(1) + Math.exp(-1) + Math.exp(0)) + 1;
    const input = () => tensor([[1, 2, 3], [1, -1, 0]]);

    it('matches the formula for a known input (mean, sum, none)', () => {
      const mean = crossEntropy(input(), ids([2, 1]));
      assert.deepEqual(mean.shape, []);
      assert.ok(Math.abs(mean.data[0] - 1.4076059644443804) <= 1e-6, `mean ${mean.data[0]}`);
      assert.ok(Math.abs(mean.data[0] - (l0 + l1) / 2) <= 1e-6);
      assertClose(crossEntropy(input(), ids([2, 1]), { reduction: 'sum' }).data, [l0 + l1]);
      const none = crossEntropy(input(), ids([2, 1]), { reduction: 'none' });
      assert.deepEqual(none.shape, [2]);
      assertClose(none.data, [l0, l1]);
      // one sample: a [C] input with a 0-d target gives a 0-d loss
      const single = crossEntropy(tensor([1, 2, 3]), scalarId(2), { reduction: 'none' });
      assert.deepEqual(single.shape, []);
      assertClose(single.data, [l0]);
    });

    it('equals -logSoftmax at the target', () => {
      manualSeed(50);
      const x = randn([4, 6]);
      const t = [5, 0, 3, 3];
      const logp = logSoftmax(x, 1).data;
      assertClose(crossEntropy(x, ids(t), { reduction: 'none' }).data, t.map((c, n) => -logp[n * 6 + c]), 1e-6);
    });

    it('ignoreIndex: ignored targets add nothing and the mean divides by the others', () => {
      assertClose(crossEntropy(input(), ids([2, -100])).data, [l0], 1e-6, 'default ignoreIndex -100');
      assertClose(crossEntropy(input(), ids([2, 1]), { ignoreIndex: 1 }).data, [l0], 1e-6);
      assertClose(crossEntropy(input(), ids([2, 1]), { ignoreIndex: 1, reduction: 'sum' }).data, [l0], 1e-6);
      assertClose(crossEntropy(input(), ids([2, 1]), { ignoreIndex: 1, reduction: 'none' }).data, [l0, 0], 1e-6);
      // an ignoreIndex outside [0, C) is not out of bounds
      assertClose(crossEntropy(input(), ids([7, 1]), { ignoreIndex: 7 }).data, [l1], 1e-6);
      assert.ok(Number.isNaN(crossEntropy(input(), ids([-100, -100])).data[0]), 'all ignored: 0/0, as in PyTorch');
      const x = input().requiresGrad_();
      crossEntropy(x, ids([2, -100])).backward();
      assert.deepEqual(Array.from(x.grad!.data.subarray(3)), [0, 0, 0], 'an ignored sample gets no gradient');
    });

    it('class weights scale each loss; the mean divides by the summed weights of the targets', () => {
      const weight = tensor([0.5, 2, 1]);
      assertClose(crossEntropy(input(), ids([2, 1]), { weight }).data, [(l0 + 2 * l1) / 3], 1e-6);
      assert.ok(Math.abs(crossEntropy(input(), ids([2, 1]), { weight }).data[0] - 1.7409392977777138) <= 1e-6);
      assertClose(crossEntropy(input(), ids([2, 1]), { weight, reduction: 'sum' }).data, [l0 + 2 * l1], 1e-6);
      assertClose(crossEntropy(input(), ids([2, 1]), { weight, reduction: 'none' }).data, [l0, 2 * l1], 1e-6);
    });

    it('[N, C, d] input with [N, d] target equals the flattened [N*d, C] case', () => {
      manualSeed(51);
      const x = randn([2, 3, 4]);
      const t = [0, 2, 1, 1, 2, 2, 0, -100];
      const loss = crossEntropy(x, ids(t, [2, 4]), { reduction: 'none' });
      assert.deepEqual(loss.shape, [2, 4]);
      const flat = new Float32Array(8 * 3);
      for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let s = 0; s < 4; s++) flat[(n * 4 + s) * 3 + c] = x.data[(n * 3 + c) * 4 + s];
      const expected = crossEntropy(tensor(flat, [8, 3]), ids(t), { reduction: 'none' });
      assertClose(loss.data, expected.data, 1e-6);
      assertClose(crossEntropy(x, ids(t, [2, 4])).data, crossEntropy(tensor(flat, [8, 3]), ids(t)).data, 1e-6, 'mean');
    });

    it('gradients match central differences', () => {
      manualSeed(52);
      const x = randn([5, 4]).requiresGrad_();
      const t = ids([3, 0, -100, 1, 3]);
      gradCheck(() => crossEntropy(x, t), [x], 'crossEntropy mean');
      gradCheck(() => crossEntropy(x, t, { reduction: 'sum', weight: tensor([0.2, 1.5, 1, 3]) }), [x], 'crossEntropy weighted sum');
      gradCheck(() => crossEntropy(x, t, { weight: tensor([0.2, 1.5, 1, 3]) }), [x], 'crossEntropy weighted mean');
      gradCheck(() => crossEntropy(x, ids([3, 0, 2, 1, 0]), { reduction: 'none', ignoreIndex: 0 }), [x], 'crossEntropy none');
      const xs = randn([2, 3, 4]).requiresGrad_();
      gradCheck(() => crossEntropy(xs, ids([0, 2, 1, 1, 2, 2, 0, 1], [2, 4])), [xs], 'crossEntropy [N, C, d]');
      const x1 = randn([4]).requiresGrad_();
      gradCheck(() => crossEntropy(x1, scalarId(2)), [x1], 'crossEntropy [C]');
    });

    it('rejects mismatched batches, out-of-bounds targets and bad options with PyTorch messages', () => {
      throwsExactly(() => crossEntropy(randn([3, 5]), ids([0, 1, 2, 3])), RangeError, /^Expected input batch_size \(3\) to match target batch_size \(4\)\.$/);
      throwsExactly(() => crossEntropy(randn([2, 5]), ids([1, 5])), RangeError, /^Target 5 is out of bounds\.$/);
      throwsExactly(() => crossEntropy(randn([2, 5]), ids([-1, 0])), RangeError, /^Target -1 is out of bounds\.$/);
      throwsExactly(() => crossEntropy(randn([2, 5]), ids([1, 0, 1, 0], [2, 2])), RangeError, /^0D or 1D target tensor expected, multi-target not supported$/);
      throwsExactly(() => crossEntropy(randn([2, 5, 3]), ids([1, 0, 1, 0], [2, 2])), RangeError, /^Expected target size \[2, 3\], got \[2, 2\]$/);
      throwsExactly(() => crossEntropy(tensor(1), scalarId(0)), RangeError, /^Expected 1 or more dimensions \(got 0\)$/);
      throwsExactly(() => crossEntropy(randn([3]), ids([0])), RangeError, /0-d target for a 1-D input/);
      throwsExactly(() => crossEntropy(randn([2, 5]), randn([2]) as unknown as Tensor<'int64'>), TypeError, /int64 Tensor of class indices for target/);
      throwsExactly(() => crossEntropy(randn([2, 5]), ids([0, 1]), { weight: randn([4]) }), RangeError, /^weight tensor should be defined either for all 5 classes or no classes but got weight tensor of shape: \[4\]$/);
      throwsExactly(() => crossEntropy(randn([2, 5]), ids([0, 1]), { reduction: 'avg' as never }), RangeError, /'none', 'mean', 'sum' for reduction/);
      throwsExactly(() => crossEntropy(randn([2, 5]), ids([0, 1]), { labelSmoothing: 0.1 } as never), TypeError, /Unknown option "labelSmoothing"/);
      throwsExactly(() => crossEntropy(randn([2, 5]), ids([0, 1]), { weight: randn([5]).requiresGrad_() }), Error, /derivative for 'weight' is not implemented/);
      assert.doesNotThrow(() => noGrad(() => crossEntropy(randn([2, 5]), ids([0, 1]), { weight: randn([5]).requiresGrad_() })));
    });
  });

  describe('mseLoss', () => {
    it('averages, sums or keeps the squared differences', () => {
      const x = tensor([1, 2, 3]);
      const y = tensor([1.5, 2, 0]);
      assertClose(mseLoss(x, y).data, [9.25 / 3]);
      assertClose(mseLoss(x, y, { reduction: 'sum' }).data, [9.25]);
      const none = mseLoss(x, y, { reduction: 'none' });
      assert.deepEqual(none.shape, [3]);
      assert.deepEqual(Array.from(none.data), [0.25, 0, 9]);
    });

    it('gradients for input and target match central differences', () => {
      manualSeed(60);
      const x = randn([3, 4]).requiresGrad_();
      const y = randn([3, 4]).requiresGrad_();
      gradCheck(() => mseLoss(x, y), [x, y], 'mseLoss mean');
      gradCheck(() => mseLoss(x, y, { reduction: 'sum' }), [x, y], 'mseLoss sum');
      gradCheck(() => mseLoss(x, y, { reduction: 'none' }), [x, y], 'mseLoss none');
      const fixed = randn([3, 4]);
      x.grad = null;
      mseLoss(x, fixed).backward();
      assert.ok(x.grad);
      assert.equal(fixed.grad, null, 'a target that does not require grad gets none');
    });

    it('rejects a target of another shape', () => {
      throwsExactly(() => mseLoss(randn([2, 3]), randn([3])), RangeError, /target of the input's shape \[2, 3\]/);
    });
  });

  describe('bceWithLogits', () => {
    const logSigmoid = (v: number) => -Math.log1p(Math.exp(-v));

    it('matches -[pw y log σ(x) + (1 - y) log(1 - σ(x))] (naive float64 form, moderate x)', () => {
      manualSeed(70);
      const x = randn([3, 4]);
      const y = tensor(Float32Array.from({ length: 12 }, (_, i) => (i % 3) / 2), [3, 4]);
      const pw = tensor([0.5, 1, 2, 3]);
      const w = tensor([[1], [0.5], [2]]);
      const naive = (i: number, withPw: boolean, withW: boolean) => {
        const v = x.data[i];
        const t = y.data[i];
        const p = withPw ? pw.data[i % 4] : 1;
        const s = withW ? w.data[Math.floor(i / 4)] : 1;
        return -s * (p * t * logSigmoid(v) + (1 - t) * logSigmoid(-v));
      };
      const all = (withPw: boolean, withW: boolean) => Array.from({ length: 12 }, (_, i) => naive(i, withPw, withW));
      assertClose(bceWithLogits(x, y, { reduction: 'none' }).data, all(false, false), 1e-6, 'plain');
      assertClose(bceWithLogits(x, y, { reduction: 'none', posWeight: pw }).data, all(true, false), 1e-6, 'posWeight [C]');
      assertClose(bceWithLogits(x, y, { reduction: 'none', weight: w }).data, all(false, true), 1e-6, 'weight [N, 1]');
      const mean = all(true, true).reduce((a, b) => a + b, 0) / 12;
      assertClose(bceWithLogits(x, y, { posWeight: pw, weight: w }).data, [mean], 1e-6, 'mean');
      assertClose(bceWithLogits(x, y, { posWeight: pw, weight: w, reduction: 'sum' }).data, [mean * 12], 1e-6, 'sum');
      // hand-computed: x = 0.5, y = 1 gives log(1 + e^-0.5); x = 2, y = 0 gives 2 + log(1 + e^-2)
      assertClose(bceWithLogits(tensor([0.5, 2]), tensor([1, 0]), { reduction: 'none' }).data, [0.4740769841801067, 2.1269280110429726]);
    });

    it('is stable for large logits', () => {
      const loss = bceWithLogits(tensor([100, -100, 0, 100]), tensor([0, 1, 0.5, 1]), { reduction: 'none' });
      assertClose(loss.data, [100, 100, Math.log(2), 0], 1e-6);
      assert.ok(loss.data.every(Number.isFinite));
    });

    it('gradients for input, target, posWeight and weight match central differences', () => {
      manualSeed(71);
      const x = randn([3, 4]).requiresGrad_();
      const y = tensor(Float32Array.from({ length: 12 }, (_, i) => (i % 5) / 4), [3, 4]).requiresGrad_();
      const pw = tensor([0.5, 1, 2, 3]).requiresGrad_();
      const w = tensor([[1], [0.5], [2]]).requiresGrad_();
      gradCheck(() => bceWithLogits(x, y), [x, y], 'bceWithLogits mean');
      gradCheck(() => bceWithLogits(x, y, { reduction: 'none', posWeight: pw, weight: w }), [x, y, pw, w], 'bceWithLogits none, weighted');
      gradCheck(() => bceWithLogits(x, y, { reduction: 'sum', posWeight: pw }), [x, pw], 'bceWithLogits sum, posWeight');
    });

    it('rejects mismatched shapes', () => {
      throwsExactly(() => bceWithLogits(randn([2, 2]), randn([2, 3])), RangeError, /^Target size \(\[2, 3\]\) must be the same as input size \(\[2, 2\]\)$/);
      throwsExactly(() => bceWithLogits(randn([2, 3]), randn([2, 3]), { posWeight: randn([2]) }), RangeError, /posWeight of a shape that broadcasts/);
      throwsExactly(() => bceWithLogits(randn([2, 3]), randn([2, 3]), { weight: randn([4, 2, 3]) }), RangeError, /weight of a shape that broadcasts/);
    });
  });

  describe('graph recording', () => {
    it('records only when grad mode is on and an input requires grad; backward runs once', () => {
      manualSeed(80);
      const w = randn([2, 3]).requiresGrad_();
      const x = randn([4, 3]);
      assert.equal(linear(x, w).gradFn?.name, 'LinearBackward');
      assert.equal(noGrad(() => linear(x, w)).gradFn, null);
      assert.equal(linear(x, randn([2, 3])).gradFn, null);
      assert.equal(softmax(x, 1).gradFn, null);
      assert.equal(crossEntropy(x, ids([0, 1, 2, 0])).gradFn, null);
      const loss = crossEntropy(linear(x, w), ids([0, 1, 1, 0]));
      assert.equal(loss.gradFn?.name, 'CrossEntropyBackward');
      loss.backward();
      assert.throws(() => loss.backward(), /second time/);
    });

    it('chains: linear -> dropout -> logSoftmax -> mseLoss backpropagates to the weight', () => {
      manualSeed(81);
      const x = randn([3, 4]);
      const w = randn([5, 4]).requiresGrad_();
      const target = randn([3, 5]);
      gradCheck(() => {
        manualSeed(5);
        return mseLoss(logSoftmax(dropout(linear(x, w), 0.2), 1), target);
      }, [w], 'chain');
      // autograd.backward from several outputs sums their contributions
      const g = randn([3, 5]);
      w.grad = null;
      autograd.backward([linear(x, w), linear(x, w)], [g, g]);
      const twice = Float32Array.from(w.grad!.data);
      w.grad = null;
      linear(x, w).backward(g);
      twice.forEach((v, i) => assert.ok(Math.abs(v - 2 * w.grad!.data[i]) <= 1e-6 * Math.max(1, Math.abs(v))));
    });

    it('CUDA tensors: run on the device; mixed devices and half dtypes are refused', function () {
      if (!cuda.isAvailable()) this.skip();
      const w = randn([2, 3], { device: 'cuda' });
      assert.equal(linear(randn([4, 3], { device: 'cuda' }), w).device, 'cuda:0');
      assert.equal(embedding(ids([0]), w).device, 'cuda:0');
      assert.equal(softmax(w, 1).device, 'cuda:0');
      throwsExactly(() => linear(randn([4, 3]), w), Error,
        'Expected all tensors to be on the same device, but found at least two devices, cpu and cuda:0! (weight is on cuda:0, input is on cpu)');
      throwsExactly(() => linear(w.to('float16') as never, w), TypeError, /^Expected a float32 Tensor for input but received dtype float16 \(only float32 is supported here; convert it with \.float\(\) first\)$/);
      assert.equal(bceWithLogits(w, w).device, 'cuda:0');
      throwsExactly(() => bceWithLogits(w, w, { posWeight: randn([3]) }), Error, /^Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! \(posWeight is on cpu, input is on cuda:0\)$/);
      assert.equal(dropout(w, 0.5, false), w, 'eval-mode dropout needs no computation');
    });
  });
});
