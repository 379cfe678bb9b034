// Differentiable tensor operations (lib/autograd/ops): forward values against hand-computed ones (broadcasting
// included), argument errors with PyTorch's texts, and a finite-difference check of every op's backward.
import { strict as assert } from 'node:assert';
import { Tensor, autograd, cuda, manualSeed, noGrad, rand, randn, tensor } from '../lib/index';
import {
  add, cat, div, exp, indexSelect, log, logSoftmax, matmul, mean, mul, narrow, neg, permute, relu, reshape, select,
  sigmoid, softmax, stack, sub, sum, tanh, transpose, view,
} from '../lib/autograd/ops/index';
import '../lib/autograd/tensor-methods';
import { throwsExactly } from './helpers/assertions';

type NestedNumbers = number | NestedNumbers[];

function flat(value: NestedNumbers): number[] {
  return Array.isArray(value) ? value.flatMap(flat) : [value];
}

/** Values and shape of `t` equal `expected` (nested arrays) to within `tol` (float32 rounding of the hand values). */
function assertValues(t: Tensor, expected: NestedNumbers, shape: number[], tol = 1e-6): void {
  assert.deepEqual(t.shape, shape, 'shape');
  const want = flat(expected);
  assert.equal(t.numel, want.length, 'numel');
  want.forEach((v, i) => {
    const got = t.data[i];
    assert.ok(Math.abs(got - v) <= tol * Math.max(1, Math.abs(v)), `element ${i}: got ${got}, expected ${v}`);
  });
}

function i64(values: number[]): Tensor<'int64'> {
  return tensor(BigInt64Array.from(values, BigInt), [values.length]);
}

function dot(a: Tensor, b: Tensor): number {
  let s = 0;
  for (let i = 0; i < a.numel; i++) s += a.data[i] * b.data[i];
  return s;
}

/** randn values pushed at least `margin` away from 0 (for relu's kink and for divisors). */
function awayFromZero(shape: number[], margin: number): Tensor {
  const t = randn(shape);
  t.data.forEach((v, i) => (t.data[i] = v + (v < 0 ? -margin : margin)));
  return t;
}

/**
 * Checks the gradients that backward gives every input of `fn` against central differences of
 * loss = sum(fn(...inputs) * g) for a random g.
 *
 * Tolerance |numeric - analytic| <= 1e-3 + 1e-2 |numeric|: the forward is float32, so each output carries a
 * relative rounding error of about 6e-8; summed over the few dozen outputs here the loss is off by at most
 * ~1e-5 (typically ~1e-6), and dividing by the step 2 * eps = 2e-2 leaves an absolute error of up to ~5e-4.
 * The step itself is taken as the float32 values actually stored (x + eps and x - eps rounded), so rounding
 * the perturbed input adds nothing. Central differences are also off by eps^2 / 6 * f''' ~ 2e-5 * |f'''|,
 * a relative error well below 1e-2 for the smooth functions and input ranges used here.
 */
function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], eps = 1e-2): void {
  inputs.forEach((x) => x.requiresGrad_());
  const out = fn(...inputs);
  assert.ok(out.gradFn, 'the output records a node');
  const g = randn(out.shape as number[]);
  autograd.backward([out], [g]);
  const loss = (): number => noGrad(() => dot(fn(...inputs), g));
  let nonzero = 0;
  inputs.forEach((x, j) => {
    const analytic = x.grad;
    assert.ok(analytic, `input ${j} received a gradient`);
    assert.deepEqual(analytic.shape, x.shape, `gradient of input ${j} has the input's shape`);
    for (let i = 0; i < x.numel; i++) {
      const orig = x.data[i];
      x.data[i] = orig + eps;
      const xp = x.data[i];
      const lp = loss();
      x.data[i] = orig - eps;
      const xm = x.data[i];
      const lm = loss();
      x.data[i] = orig;
      const numeric = (lp - lm) / (xp - xm);
      const a = analytic.data[i];
      assert.ok(Math.abs(numeric - a) <= 1e-3 + 1e-2 * Math.abs(numeric), `input ${j}, element ${i}: numeric ${numeric}, backward ${a}`);
      if (a !== 0) nonzero++;
    }
  });
  assert.ok(nonzero > 0, 'the check is not vacuous');
}

describe('ops: forward values', () => {
  it('add/sub/mul/div broadcast like PyTorch, with numbers on either side', () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    const row = tensor([10, 20, 30]);
    const col = tensor([[2], [4]]);
    assertValues(add(a, row), [[11, 22, 33], [14, 25, 36]], [2, 3]);
    assertValues(sub(a, col), [[-1, 0, 1], [0, 1, 2]], [2, 3]);
    assertValues(mul(col, row), [[20, 40, 60], [40, 80, 120]], [2, 3]);
    assertValues(div(a, col), [[0.5, 1, 1.5], [1, 1.25, 1.5]], [2, 3]);
    assertValues(div(a, 4), [[0.25, 0.5, 0.75], [1, 1.25, 1.5]], [2, 3]);
    assertValues(sub(1, row), [-9, -19, -29], [3]);
    assertValues(mul(2, a), [[2, 4, 6], [8, 10, 12]], [2, 3]);
    assertValues(add(a, row, 0.5), [[6, 12, 18], [9, 15, 21]], [2, 3]);
    assertValues(sub(a, 1, 2), [[-1, 0, 1], [2, 3, 4]], [2, 3]);
    assertValues(neg(row), [-10, -20, -30], [3]);
    // [2, 1, 3] with [4, 1] -> [2, 4, 3]; 0-d with anything
    const x = tensor([[[1, 2, 3]], [[4, 5, 6]]]);
    const y = tensor([[0], [1], [2], [3]]);
    const z = add(x, y);
    assert.deepEqual(z.shape, [2, 4, 3]);
    assert.deepEqual(z.toArray(), [0, 1].map((b) => [0, 1, 2, 3].map((r) => [1, 2, 3].map((c) => 3 * b + c + r))));
    assertValues(mul(tensor(3), row), [30, 60, 90], [3]);
    assertValues(add(tensor(1), tensor(2)), 3, []);
    assert.equal(add(a, 1).gradFn, null, 'nothing requires grad: no graph');
  });

  it('rejects shapes that do not broadcast and non-tensor or int64 operands', () => {
    throwsExactly(() => add(randn([2, 3]), randn([2, 4])), RangeError, 'The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1');
    throwsExactly(() => mul(randn([5, 2, 3]), randn([4, 3])), RangeError, 'The size of tensor a (2) must match the size of tensor b (4) at non-singleton dimension 1');
    throwsExactly(() => add([1, 2] as never, randn([2])), TypeError, 'Expected a Tensor for input of add but received an array of length 2');
    throwsExactly(() => div(randn([2]), '2' as never), TypeError, 'Expected a Tensor for other of div but received "2"');
    throwsExactly(() => add(1 as never, 2 as never), TypeError, 'Expected a Tensor for input or other of add but received two numbers');
    throwsExactly(() => add(randn([2]), i64([1, 2]) as never), TypeError, /^Expected a float32 Tensor for other of add but received dtype int64/);
    throwsExactly(() => tanh(i64([1, 2]) as never), TypeError, /^Expected a float32 Tensor for input of tanh but received dtype int64/);
    throwsExactly(() => sub(randn([2]), randn([2]), 'x' as never), TypeError, 'Expected number for alpha but received "x"');
    const t = randn([2]);
    t.dispose();
    throwsExactly(() => exp(t), Error, /^Tensor has been disposed/);
  });

  it('matmul: dot, matrix-vector, vector-matrix, matrix-matrix, batched 3-D x 2-D and 3-D x 3-D', () => {
    const m = tensor([[1, 2, 3], [4, 5, 6]]); // [2, 3]
    const v = tensor([1, 0, -1]);
    assertValues(matmul(v, tensor([2, 3, 4])), -2, []);
    assertValues(matmul(m, v), [-2, -2], [2]);
    assertValues(matmul(tensor([1, -1]), m), [-3, -3, -3], [3]);
    const n = tensor([[1, 0], [0, 1], [1, 1]]); // [3, 2]
    assertValues(matmul(m, n), [[4, 5], [10, 11]], [2, 2]);
    const batch = tensor([[[1, 2, 3], [4, 5, 6]], [[0, 1, 0], [1, 0, 0]]]); // [2, 2, 3]
    assertValues(matmul(batch, n), [[[4, 5], [10, 11]], [[0, 1], [1, 0]]], [2, 2, 2]);
    const other = tensor([[[1, 0], [0, 1], [1, 1]], [[2, 0], [0, 2], [0, 0]]]); // [2, 3, 2]
    assertValues(matmul(batch, other), [[[4, 5], [10, 11]], [[0, 2], [2, 0]]], [2, 2, 2]);
    assertValues(matmul(batch, v), [[-2, -2], [0, 1]], [2, 2]);
    // batch dimensions broadcast: [1, 2, 3] x [2, 3, 2]
    assertValues(matmul(m.reshape(1, 2, 3), other), [[[4, 5], [10, 11]], [[2, 4], [8, 10]]], [2, 2, 2]);
    assertValues(m.matmul(n), [[4, 5], [10, 11]], [2, 2]);
  });

  it('matmul rejects mismatched shapes with PyTorch\'s messages', () => {
    throwsExactly(() => matmul(randn([2, 3]), randn([4, 5])), RangeError, 'mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)');
    throwsExactly(() => matmul(randn([3]), randn([4, 5])), RangeError, 'mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)');
    throwsExactly(() => matmul(randn([2, 2, 3]), randn([4, 5])), RangeError, 'mat1 and mat2 shapes cannot be multiplied (4x3 and 4x5)');
    throwsExactly(() => matmul(randn([2, 3]), randn([4])), RangeError, 'size mismatch, got input (2), mat (2x3), vec (4)');
    throwsExactly(() => matmul(randn([3]), randn([4])), RangeError, 'inconsistent tensor size, expected tensor [3] and src [4] to have the same number of elements, but got 3 and 4 elements respectively');
    throwsExactly(() => matmul(randn([2, 3, 4]), randn([2, 5, 6])), RangeError, 'Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [2, 5].');
    throwsExactly(() => matmul(randn([2, 3, 4]), randn([3, 4, 6])), RangeError, 'The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0');
    throwsExactly(() => matmul(tensor(2), randn([2])), RangeError, 'both arguments to matmul need to be at least 1D, but they are 0D and 1D');
  });

  it('sum and mean over everything, a dim, negative dims, several dims, with keepdim', () => {
    const x = tensor([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]); // [2, 3, 2]
    assertValues(sum(x), 78, []);
    assertValues(mean(x), 6.5, []);
    assertValues(sum(x, 0), [[8, 10], [12, 14], [16, 18]], [3, 2]);
    assertValues(sum(x, -1), [[3, 7, 11], [15, 19, 23]], [2, 3]);
    assertValues(mean(x, 1), [[3, 4], [9, 10]], [2, 2]);
    assertValues(sum(x, [0, 2]), [18, 26, 34], [3]);
    assertValues(mean(x, [-1, 0], true), [[[4.5], [6.5], [8.5]]], [1, 3, 1]);
    assertValues(sum(x, 1, true), [[[9, 12]], [[27, 30]]], [2, 1, 2]);
    assertValues(sum(x, null, true), [[[78]]], [1, 1, 1]);
    assertValues(sum(x, []), 78, [], 1e-6);
    assertValues(sum(tensor(5), 0), 5, []);
    assertValues(x.mean(2), [[1.5, 3.5, 5.5], [7.5, 9.5, 11.5]], [2, 3]);
    assertValues(x.sum(), 78, []);
  });

  it('reductions reject bad dims', () => {
    const x = randn([2, 3]);
    throwsExactly(() => sum(x, 2), RangeError, 'Dimension out of range (expected to be in range of [-2, 1], but got 2)');
    throwsExactly(() => mean(x, [-3]), RangeError, 'Dimension out of range (expected to be in range of [-2, 1], but got -3)');
    throwsExactly(() => sum(x, [1, -1]), RangeError, 'dim 1 appears multiple times in the list of dims');
    throwsExactly(() => sum(x, 0.5), TypeError, 'Expected integer for dim but received 0.5');
    throwsExactly(() => sum(x, 0, 1 as never), TypeError, 'Expected boolean for keepdim but received 1');
    throwsExactly(() => mean(i64([1, 2]) as never), TypeError, /^Expected a float32 Tensor for input of mean/);
  });

  it('tanh, sigmoid, relu, exp and log element-wise', () => {
    const values = [-2, -0.5, 0, 0.5, 3];
    const x = tensor(values);
    assertValues(tanh(x), values.map(Math.tanh), [5]);
    assertValues(sigmoid(x), values.map((v) => 1 / (1 + Math.exp(-v))), [5]);
    assertValues(relu(x), [0, 0, 0, 0.5, 3], [5]);
    assertValues(exp(x), values.map(Math.exp), [5]);
    assertValues(log(tensor([0.5, 1, Math.E, 10])), [Math.log(0.5), 0, 1, Math.log(10)], [4]);
    assert.deepEqual(log(tensor([0, -1])).toArray(), [-Infinity, NaN]);
    assertValues(sigmoid(tensor([-200, 200])), [0, 1], [2]);
    assertValues(x.reshape(5, 1).relu(), [[0], [0], [0], [0.5], [3]], [5, 1]);
  });

  it('softmax and logSoftmax along a dim, stable for large inputs', () => {
    const x = tensor([[1, 2, 3], [1, 1, 1]]);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0] + e[1] + e[2];
    assertValues(softmax(x, 1), [[e[0] / s, e[1] / s, e[2] / s], [1 / 3, 1 / 3, 1 / 3]], [2, 3]);
    assertValues(logSoftmax(x, -1), [[1 - Math.log(s), 2 - Math.log(s), 3 - Math.log(s)], [-Math.log(3), -Math.log(3), -Math.log(3)]], [2, 3]);
    const e0 = 1 / (1 + Math.exp(-1));
    assertValues(softmax(tensor([[0, 1], [1, 0]]), 0), [[1 - e0, e0], [e0, 1 - e0]], [2, 2]);
    // exp(1000) overflows float64: the maximum is subtracted first
    assertValues(softmax(tensor([1000, 1001]), 0), [1 - e0, e0], [2]);
    assertValues(logSoftmax(tensor([-1000, 0]), 0), [-1000, 0], [2]);
    assertValues(x.logSoftmax(1).exp().sum(1), [1, 1], [2], 1e-6);
    throwsExactly(() => softmax(x, 2), RangeError, 'Dimension out of range (expected to be in range of [-2, 1], but got 2)');
  });

  it('reshape and view share memory and infer -1', () => {
    const x = tensor([1, 2, 3, 4, 5, 6]);
    const r = reshape(x, [2, -1]);
    assertValues(r, [[1, 2, 3], [4, 5, 6]], [2, 3]);
    r.data[0] = 9;
    assert.equal(x.data[0], 9, 'shares memory');
    assert.deepEqual(view(x, [3, 1, -1]).shape, [3, 1, 2]);
    assert.deepEqual(reshape(i64([1, 2, 3, 4]), [2, 2]).toArray(), [[1n, 2n], [3n, 4n]]);
    throwsExactly(() => reshape(x, [4, -1]), RangeError, 'shape [4, -1] is invalid for input of size 6');
    throwsExactly(() => reshape(x, [-1, -1]), RangeError, 'Expected integer >= 0 for shape[1] but received -1');
    throwsExactly(() => reshape(x, [2.5, 2]), TypeError, 'Expected integer for shape[0] but received 2.5');
  });

  it('transpose and permute', () => {
    const x = tensor([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]); // [2, 3, 2]
    assertValues(transpose(x, 0, 2), [[[1, 7], [3, 9], [5, 11]], [[2, 8], [4, 10], [6, 12]]], [2, 3, 2]);
    assertValues(transpose(tensor([[1, 2, 3], [4, 5, 6]]), -1, 0), [[1, 4], [2, 5], [3, 6]], [3, 2]);
    assertValues(permute(x, [1, 2, 0]), [[[1, 7], [2, 8]], [[3, 9], [4, 10]], [[5, 11], [6, 12]]], [3, 2, 2]);
    assertValues(x.permute(2, 0, 1), [[[1, 3, 5], [7, 9, 11]], [[2, 4, 6], [8, 10, 12]]], [2, 2, 3]);
    assertValues(x.permute([-1, 0, 1]), [[[1, 3, 5], [7, 9, 11]], [[2, 4, 6], [8, 10, 12]]], [2, 2, 3]);
    assert.deepEqual(transpose(i64([1, 2]).reshape(1, 2), 0, 1).toArray(), [[1n], [2n]]);
    throwsExactly(() => transpose(x, 0, 3), RangeError, 'Dimension out of range (expected to be in range of [-3, 2], but got 3)');
    throwsExactly(() => permute(x, [0, 1]), RangeError, 'permute(): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = 3 is not equal to len(dims) = 2');
    throwsExactly(() => permute(x, [0, 1, -3]), RangeError, 'permute(): duplicate dims are not allowed.');
  });

  it('select and narrow', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    assertValues(select(x, 0, 1), [4, 5, 6], [3]);
    assertValues(select(x, 1, -1), [3, 6], [2]);
    assertValues(select(select(x, 0, 0), 0, 2), 3, []);
    assertValues(narrow(x, 1, 1, 2), [[2, 3], [5, 6]], [2, 2]);
    assertValues(narrow(x, -1, -2, 1), [[2], [5]], [2, 1]);
    assertValues(narrow(x, 0, 2, 0), [], [0, 3]);
    assertValues(x.select(1, 0), [1, 4], [2]);
    assertValues(x.narrow(0, 1, 1), [[4, 5, 6]], [1, 3]);
    assert.deepEqual(select(i64([7, 8, 9]), 0, -1).toArray(), 9n);
    throwsExactly(() => select(x, 0, 2), RangeError, 'select(): index 2 out of range for tensor of size [2, 3] at dimension 0');
    throwsExactly(() => select(x, 1, -4), RangeError, 'select(): index -4 out of range for tensor of size [2, 3] at dimension 1');
    throwsExactly(() => select(tensor(1), 0, 0), RangeError, 'select() cannot be applied to a 0-dim tensor.');
    throwsExactly(() => narrow(x, 1, 2, 2), RangeError, 'start (2) + length (2) exceeds dimension size (3).');
    throwsExactly(() => narrow(x, 1, 4, 0), RangeError, 'start out of range (expected to be in range of [-3, 3], but got 4)');
    throwsExactly(() => narrow(x, 1, 0, -1), RangeError, 'narrow(): length must be non-negative.');
    throwsExactly(() => select(x, 2, 0), RangeError, 'Dimension out of range (expected to be in range of [-2, 1], but got 2)');
  });

  it('cat and stack', () => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([[5, 6]]);
    assertValues(cat([a, b]), [[1, 2], [3, 4], [5, 6]], [3, 2]);
    assertValues(cat([a, tensor([[7], [8]])], -1), [[1, 2, 7], [3, 4, 8]], [2, 3]);
    assertValues(stack([a, a]), [[[1, 2], [3, 4]], [[1, 2], [3, 4]]], [2, 2, 2]);
    assertValues(stack([a, neg(a)], 1), [[[1, 2], [-1, -2]], [[3, 4], [-3, -4]]], [2, 2, 2]);
    assertValues(stack([a, neg(a)], -1), [[[1, -1], [2, -2]], [[3, -3], [4, -4]]], [2, 2, 2]);
    assertValues(stack([tensor(1), tensor(2)]), [1, 2], [2]);
    assert.deepEqual(cat([i64([1]), i64([2, 3])]).toArray(), [1n, 2n, 3n]);
    throwsExactly(() => cat([]), RangeError, 'torch.cat(): expected a non-empty list of Tensors');
    throwsExactly(() => stack([]), RangeError, 'stack expects a non-empty TensorList');
    throwsExactly(() => cat([a, tensor([[7], [8]])]), RangeError, 'Sizes of tensors must match except in dimension 0. Expected size 2 but got size 1 for tensor number 1 in the list.');
    throwsExactly(() => cat([a, tensor([1, 2])]), RangeError, 'Tensors must have same number of dimensions: got 2 and 1');
    throwsExactly(() => cat([tensor(1)]), RangeError, 'zero-dimensional tensor (at position 0) cannot be concatenated');
    throwsExactly(() => stack([a, b]), RangeError, 'stack expects each tensor to be equal size, but got [2, 2] at entry 0 and [1, 2] at entry 1');
    throwsExactly(() => stack([a, a], 3), RangeError, 'Dimension out of range (expected to be in range of [-3, 2], but got 3)');
    throwsExactly(() => cat([a, i64([1, 2]).reshape(1, 2)] as never), TypeError, 'Expected all tensors of cat to have the same dtype, but got float32 for tensors[0] and int64 for tensors[1]');
    throwsExactly(() => cat(a as never), TypeError, 'Expected an array of Tensors for tensors of cat but received a Tensor');
  });

  it('indexSelect gathers rows (an embedding lookup) and checks its index', () => {
    const w = tensor([[0, 1], [10, 11], [20, 21]]);
    assertValues(indexSelect(w, 0, i64([2, 0, 2])), [[20, 21], [0, 1], [20, 21]], [3, 2]);
    assertValues(indexSelect(w, 1, i64([1])), [[1], [11], [21]], [3, 1]);
    assertValues(w.indexSelect(-2, i64([1, 1])), [[10, 11], [10, 11]], [2, 2]);
    assertValues(indexSelect(w, 0, i64([])), [], [0, 2]);
    assertValues(indexSelect(w, 0, tensor(BigInt64Array.of(1n), [])), [[10, 11]], [1, 2]);
    assert.deepEqual(indexSelect(i64([5, 6, 7]), 0, i64([2, 2])).toArray(), [7n, 7n]);
    throwsExactly(() => indexSelect(w, 0, i64([3])), RangeError, /^index out of range in self: index\[0\] = 3 is not in \[0, 3\)/);
    throwsExactly(() => indexSelect(w, 0, i64([-1])), RangeError, /^index out of range in self: index\[0\] = -1/);
    throwsExactly(() => indexSelect(w, 0, tensor([1]) as never), TypeError, 'Expected an int64 Tensor for index of indexSelect but received dtype float32');
    throwsExactly(() => indexSelect(w, 0, i64([1, 2]).reshape(1, 2)), RangeError, 'index_select(): Index is supposed to be a vector, but index has shape [1, 2]');
    throwsExactly(() => indexSelect(w, 2, i64([0])), RangeError, 'Dimension out of range (expected to be in range of [-2, 1], but got 2)');
  });

  it('CUDA tensors: ops run on the device; mixed devices and half dtypes are refused clearly', function () {
    if (!cuda.isAvailable()) this.skip();
    const x = randn([2, 3]).cuda();
    assert.equal(add(x, x).device, 'cuda:0');
    throwsExactly(() => add(x, randn([2, 3])), Error,
      'Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! (other is on cpu, input is on cuda:0)');
    throwsExactly(() => matmul(randn([2, 3]), randn([3, 2]).cuda()), Error, /^Expected all tensors to be on the same device, but found at least two devices, cpu and cuda:0!/);
    throwsExactly(() => cat([x, randn([1, 3])]), Error, /^Expected all tensors to be on the same device/);
    throwsExactly(() => tanh(x.to('float16') as never), TypeError, /^Expected a float32 Tensor for input of tanh but received dtype float16 on cuda:0 \(tensor ops on CUDA compute in float32: call \.float\(\) first\)$/);
    const r = reshape(x, [3, 2]);
    assert.equal(r.device, 'cuda:0');
    assert.deepEqual(r.shape, [3, 2]);
  });
});

describe('ops: backward by finite differences', () => {
  beforeEach(() => manualSeed(1234));

  it('add, sub, mul, div with broadcasting and numbers', () => {
    gradcheck((a, b) => add(a, b), [randn([2, 3]), randn([2, 3])]);
    gradcheck((a, b) => add(a, b, -1.5), [randn([2, 1, 3]), randn([4, 1])]);
    gradcheck((a, b) => sub(a, b), [randn([3]), randn([2, 3])]);
    gradcheck((a) => sub(2, a, 0.5), [randn([2, 2])]);
    gradcheck((a, b) => mul(a, b), [randn([2, 3]), randn([2, 1])]);
    gradcheck((a, b) => mul(a, b), [randn([]), randn([2, 3])]);
    gradcheck((a) => mul(a, 3), [randn([4])]);
    gradcheck((a, b) => div(a, b), [randn([2, 3]), awayFromZero([3], 0.5)]);
    gradcheck((a, b) => div(a, b), [randn([1, 3]), awayFromZero([2, 1], 0.5)]);
    gradcheck((a) => div(1, a), [awayFromZero([3], 0.5)]);
  });

  it('neg, tanh, sigmoid, relu, exp, log', () => {
    gradcheck((x) => neg(x), [randn([2, 3])]);
    gradcheck((x) => tanh(x), [randn([2, 3])]);
    gradcheck((x) => sigmoid(x), [randn([2, 3])]);
    gradcheck((x) => relu(x), [awayFromZero([2, 4], 0.05)]); // no input within eps of the kink
    gradcheck((x) => exp(x), [randn([2, 3])]);
    gradcheck((x) => log(x), [add(mul(rand([2, 3]), 1.5), 0.5)]); // inputs in [0.5, 2)
  });

  it('matmul in every supported layout', () => {
    gradcheck((a, b) => matmul(a, b), [randn([4]), randn([4])]);
    gradcheck((a, b) => matmul(a, b), [randn([3, 4]), randn([4])]);
    gradcheck((a, b) => matmul(a, b), [randn([4]), randn([4, 2])]);
    gradcheck((a, b) => matmul(a, b), [randn([3, 4]), randn([4, 2])]);
    gradcheck((a, b) => matmul(a, b), [randn([2, 3, 4]), randn([4, 2])]);
    gradcheck((a, b) => matmul(a, b), [randn([2, 3, 4]), randn([2, 4, 2])]);
    gradcheck((a, b) => matmul(a, b), [randn([1, 3, 4]), randn([2, 4, 2])]);
    gradcheck((a, b) => matmul(a, b), [randn([2, 3, 4]), randn([4])]);
  });

  it('sum and mean', () => {
    gradcheck((x) => sum(x), [randn([2, 3])]);
    gradcheck((x) => sum(x, 1), [randn([2, 3, 2])]);
    gradcheck((x) => sum(x, [0, -1], true), [randn([2, 3, 2])]);
    gradcheck((x) => mean(x), [randn([2, 3])]);
    gradcheck((x) => mean(x, -2, true), [randn([2, 3, 2])]);
    gradcheck((x) => mean(x, [0, 2]), [randn([2, 3, 2])]);
  });

  it('softmax and logSoftmax', () => {
    gradcheck((x) => softmax(x, 1), [randn([2, 4])]);
    gradcheck((x) => softmax(x, 0), [randn([3, 2, 2])]);
    gradcheck((x) => logSoftmax(x, -1), [randn([2, 4])]);
    gradcheck((x) => logSoftmax(x, 1), [randn([2, 3, 2])]);
  });

  it('reshape, view, transpose, permute', () => {
    gradcheck((x) => reshape(x, [3, -1]), [randn([2, 3])]);
    gradcheck((x) => view(x, [6]), [randn([2, 3])]);
    gradcheck((x) => transpose(x, 0, 1), [randn([2, 3])]);
    gradcheck((x) => transpose(x, -1, 0), [randn([2, 3, 2])]);
    gradcheck((x) => permute(x, [2, 0, 1]), [randn([2, 3, 2])]);
  });

  it('select, narrow, cat, stack', () => {
    gradcheck((x) => select(x, 1, -1), [randn([2, 3, 2])]);
    gradcheck((x) => select(x, 0, 1), [randn([3, 2])]);
    gradcheck((x) => narrow(x, 1, 1, 2), [randn([2, 4])]);
    gradcheck((x) => narrow(x, 0, -2, 2), [randn([3, 2, 2])]);
    gradcheck((a, b) => cat([a, b], 1), [randn([2, 1, 2]), randn([2, 3, 2])]);
    gradcheck((a, b, c) => cat([a, b, c]), [randn([1, 3]), randn([2, 3]), randn([1, 3])]);
    gradcheck((a, b) => stack([a, b]), [randn([2, 3]), randn([2, 3])]);
    gradcheck((a, b) => stack([a, b], -1), [randn([2, 3]), randn([2, 3])]);
  });

  it('indexSelect scatter-adds, repeated indices accumulating', () => {
    gradcheck((w) => indexSelect(w, 0, i64([2, 0, 2, 2])), [randn([4, 3])]);
    gradcheck((w) => indexSelect(w, 1, i64([1, 1, 0])), [randn([2, 3, 2])]);
    const w = randn([3, 2]).requiresGrad_();
    const out = indexSelect(w, 0, i64([1, 1, 1, 0]));
    autograd.backward([out], [tensor([[1, 2], [3, 4], [5, 6], [7, 8]])]);
    assert.deepEqual(w.grad!.toArray(), [[7, 8], [9, 12], [0, 0]]);
  });

  it('a composite graph (embedding, linear, tanh, logSoftmax, mean) through the tensor methods', () => {
    const ids = i64([0, 2, 1]);
    gradcheck(
      (emb, w, b) => emb.indexSelect(0, ids).matmul(w.transpose(0, 1)).add(b).tanh().logSoftmax(-1).select(1, 0).mean(),
      [randn([3, 4]), randn([5, 4]), randn([5])],
    );
    gradcheck((x) => x.mul(x).sub(x.exp()).div(2).neg().sigmoid().sum(0).relu(), [randn([3, 2])]);
  });
});

describe('ops: graph recording', () => {
  it('accumulates the gradient of a tensor used twice', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    autograd.backward([add(x, x)], [tensor([1, 1, 1])]);
    assert.deepEqual(x.grad!.toArray(), [2, 2, 2]);
    autograd.backward([mul(x, x)], [tensor([1, 1, 1])]);
    assert.deepEqual(x.grad!.toArray(), [4, 6, 8], 'd(x*x)/dx = 2x, added to the earlier gradient');
    x.grad = null;
    const y = tanh(x);
    autograd.backward([add(mul(y, 2), y)], [tensor([1, 1, 1])]);
    const expected = [1, 2, 3].map((v) => 3 * (1 - Math.tanh(v) ** 2));
    x.grad!.data.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6));
  });

  it('sums the gradient of a broadcast input over the broadcast dims, giving it the input\'s shape', () => {
    const a = randn([2, 3]).requiresGrad_();
    const b = randn([3]).requiresGrad_();
    const c = randn([2, 1]).requiresGrad_();
    const s = randn([]).requiresGrad_();
    autograd.backward([mul(add(a, b), add(c, s))], [tensor([[1, 1, 1], [1, 1, 1]])]);
    assert.deepEqual(a.grad!.shape, [2, 3]);
    assert.deepEqual(b.grad!.shape, [3]);
    assert.deepEqual(c.grad!.shape, [2, 1]);
    assert.deepEqual(s.grad!.shape, []);
    // d/db sum((a + b) * (c + s)) = sum over rows of (c + s)
    const cs = [c.data[0] + s.data[0], c.data[1] + s.data[0]];
    b.grad!.data.forEach((v) => assert.ok(Math.abs(v - (cs[0] + cs[1])) < 1e-5));
    const rowSums = [0, 1].map((r) => [0, 1, 2].reduce((t, j) => t + a.data[r * 3 + j] + b.data[j], 0));
    assert.ok(Math.abs(s.grad!.data[0] - (rowSums[0] + rowSums[1])) < 1e-5);
  });

  it('records nothing under noGrad or when no input requires grad; only inputs that need it get gradients', () => {
    const x = randn([2, 3]).requiresGrad_();
    const w = randn([3, 2]);
    noGrad(() => {
      for (const out of [add(x, 1), matmul(x, w), sum(x), softmax(x, 1), reshape(x, [6]), select(x, 0, 0), cat([x, x]), indexSelect(x, 0, i64([1]))]) {
        assert.equal(out.gradFn, null);
        assert.equal(out.requiresGrad, false);
      }
    });
    assert.equal(matmul(w, w.transpose(0, 1)).gradFn, null);
    const y = matmul(x, w);
    assert.ok(y.gradFn);
    assert.equal(y.gradFn.name, 'MmBackward0');
    assert.equal(y.gradFn.inputs[1], null, 'w needs no gradient');
    autograd.backward([sum(y)]);
    assert.equal(w.grad, null);
    assert.deepEqual(x.grad!.shape, [2, 3]);
  });

  it('a node with saved values runs backward once; gradients pass back through a reshape view', () => {
    const x = randn([2, 3]).requiresGrad_();
    const y = sum(exp(x));
    y.backward();
    assert.throws(() => y.backward(), /second time/);
    x.grad = null;
    const v = reshape(x, [3, 2]);
    assert.equal(v.data.buffer, x.data.buffer, 'the view shares memory');
    assert.equal(v.gradFn?.name, 'ViewBackward0');
    autograd.backward([v], [tensor([[1, 2], [3, 4], [5, 6]])]);
    assert.deepEqual(x.grad!.toArray(), [[1, 2, 3], [4, 5, 6]]);
  });

  it('Tensor.reshape / view record through ops.reshape', function () {
    if (randn([1]).requiresGrad_().reshape(1).gradFn === null) this.skip(); // until Tensor.reshape delegates to ops.reshape
    gradcheck((x) => x.reshape(3, 2), [randn([2, 3])]);
    gradcheck((x) => x.view([-1]), [randn([2, 3])]);
  });
});
