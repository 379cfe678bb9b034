// Expected strings follow torch/_tensor_str.py with default print options (precision 4, threshold 1000,
// edgeitems 3, linewidth 80); the comments give the rule each case exercises.
import { strict as assert } from 'node:assert';
import { formatTensor, pyExponential, pyFixed } from '../lib/format';

const f32 = (values: number[], shape: number[] = [values.length]) => formatTensor(Float32Array.from(values), shape, 'float32');
const i64 = (values: number[], shape: number[] = [values.length]) =>
  formatTensor(BigInt64Array.from(values, (v) => BigInt(v)), shape, 'int64');
const range = (n: number, f: (i: number) => number = (i) => i) => Array.from({ length: n }, (_, i) => f(i));

describe('formatTensor', () => {
  it('prints 0-d tensors', () => {
    assert.equal(f32([3.5], []), 'tensor(3.5000)');
    assert.equal(f32([-2], []), 'tensor(-2.)');
    assert.equal(i64([7], []), 'tensor(7)');
    assert.equal(f32([NaN], []), 'tensor(nan)');
  });

  it('prints 1-D float tensors with 4 decimals, padded to the widest element', () => {
    assert.equal(f32([1.5, -2.25, 10]), 'tensor([ 1.5000, -2.2500, 10.0000])');
    // float32 0.1 is 0.10000000149..., printed from its double value
    assert.equal(f32([0.1, 0.2]), 'tensor([0.1000, 0.2000])');
  });

  it('prints integral floats with a trailing dot', () => {
    assert.equal(f32([1, 2, 3]), 'tensor([1., 2., 3.])');
    assert.equal(f32([-1, 20, 3]), 'tensor([-1., 20.,  3.])');
    assert.equal(f32([0, 0]), 'tensor([0., 0.])');
    assert.equal(f32([-0, 1]), 'tensor([-0., 1.])');
    assert.equal(f32([1e8], []), 'tensor(100000000.)');
  });

  it('aligns nested rows under the opening bracket', () => {
    assert.equal(f32([1.5, -2.25, 3, 4], [2, 2]), 'tensor([[ 1.5000, -2.2500],\n        [ 3.0000,  4.0000]])');
    assert.equal(f32([0.062, -0.1, 0.0123, 0.5], [1, 2, 2]), 'tensor([[[ 0.0620, -0.1000],\n         [ 0.0123,  0.5000]]])');
    // 3-D slices are separated by a blank line
    assert.equal(i64([1, -2, 3, 4], [2, 1, 2]), 'tensor([[[ 1, -2]],\n\n        [[ 3,  4]]])');
    assert.equal(f32([1, 2], [1, 1, 1, 2]), 'tensor([[[[1., 2.]]]])');
  });

  it('switches to scientific notation like PyTorch', () => {
    // max / min > 1000
    assert.equal(f32([1e-5, 1e3]), 'tensor([1.0000e-05, 1.0000e+03])');
    assert.equal(f32([-1e-5, 2]), 'tensor([-1.0000e-05,  2.0000e+00])');
    // float32 1e-4 is 9.99999974e-05, below the 1e-4 cut-off
    assert.equal(f32([1e-4], []), 'tensor(1.0000e-04)');
    assert.equal(f32([0.00011], []), 'tensor(0.0001)');
    // integral values: only the ratio and the 1e8 bound count
    assert.equal(f32([1, 10000]), 'tensor([1.0000e+00, 1.0000e+04])');
    assert.equal(f32([1.5e8], []), 'tensor(1.5000e+08)');
    // zeros and non-finite values are printed in the chosen notation but do not choose it
    assert.equal(f32([0, 1e-5, NaN]), 'tensor([0.0000e+00, 1.0000e-05,        nan])');
  });

  it('prints nan and inf', () => {
    assert.equal(f32([NaN, Infinity, -Infinity, 1.5]), 'tensor([   nan,    inf,   -inf, 1.5000])');
    assert.equal(f32([1, NaN, 2]), 'tensor([1., nan, 2.])');
    assert.equal(f32([Infinity, -Infinity, NaN]), 'tensor([inf, -inf, nan])');
  });

  it('rounds exact ties to even, as Python does', () => {
    // 0.03125 and 0.09375 are exact in binary: 312.5 -> 312, 937.5 -> 938
    assert.equal(f32([0.03125, 0.09375]), 'tensor([0.0312, 0.0938])');
    assert.equal(f32([1.03125, 1e-5]), 'tensor([1.0312e+00, 1.0000e-05])');
  });

  it('prints empty tensors', () => {
    assert.equal(f32([]), 'tensor([])');
    assert.equal(formatTensor(new Float32Array(0), [0, 3], 'float32'), 'tensor([], size=(0, 3))');
    assert.equal(formatTensor(new Float32Array(0), [2, 0, 1], 'float32'), 'tensor([], size=(2, 0, 1))');
    // with no elements to show it, the int64 dtype is printed
    assert.equal(i64([]), 'tensor([], dtype=torch.int64)');
    assert.equal(formatTensor(new BigInt64Array(0), [0, 3], 'int64'), 'tensor([], size=(0, 3), dtype=torch.int64)');
  });

  it('prints int64 tensors without a dtype suffix', () => {
    assert.equal(i64([1, 2, 3]), 'tensor([1, 2, 3])');
    assert.equal(i64([-10, 5, 100]), 'tensor([-10,   5, 100])');
    assert.equal(
      formatTensor(BigInt64Array.from([9223372036854775807n, -9223372036854775808n]), [2], 'int64'),
      'tensor([ 9223372036854775807, -9223372036854775808])',
    );
  });

  it('wraps long rows at 80 columns', () => {
    assert.equal(
      f32(range(20, (i) => i + 0.5)),
      'tensor([ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000,  7.5000,\n' +
        '         8.5000,  9.5000, 10.5000, 11.5000, 12.5000, 13.5000, 14.5000, 15.5000,\n' +
        '        16.5000, 17.5000, 18.5000, 19.5000])',
    );
    assert.equal(
      i64(range(30)),
      'tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n' +
        '        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29])',
    );
  });

  it('summarises tensors of more than 1000 elements', () => {
    assert.equal(i64(range(1001)), 'tensor([   0,    1,    2,  ...,  998,  999, 1000])');
    assert.equal(
      i64(range(2000), [100, 20]),
      'tensor([[   0,    1,    2,  ...,   17,   18,   19],\n' +
        '        [  20,   21,   22,  ...,   37,   38,   39],\n' +
        '        [  40,   41,   42,  ...,   57,   58,   59],\n' +
        '        ...,\n' +
        '        [1940, 1941, 1942,  ..., 1957, 1958, 1959],\n' +
        '        [1960, 1961, 1962,  ..., 1977, 1978, 1979],\n' +
        '        [1980, 1981, 1982,  ..., 1997, 1998, 1999]])',
    );
    // max / min of the shown values is 1999 > 1000, so sci mode; 6 elements of width 10 fit a row,
    // and the ' ...' marker counts as one of them
    assert.equal(
      f32(range(2000), [100, 20]),
      'tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.7000e+01, 1.8000e+01,\n' +
        '         1.9000e+01],\n' +
        '        [2.0000e+01, 2.1000e+01, 2.2000e+01,  ..., 3.7000e+01, 3.8000e+01,\n' +
        '         3.9000e+01],\n' +
        '        [4.0000e+01, 4.1000e+01, 4.2000e+01,  ..., 5.7000e+01, 5.8000e+01,\n' +
        '         5.9000e+01],\n' +
        '        ...,\n' +
        '        [1.9400e+03, 1.9410e+03, 1.9420e+03,  ..., 1.9570e+03, 1.9580e+03,\n' +
        '         1.9590e+03],\n' +
        '        [1.9600e+03, 1.9610e+03, 1.9620e+03,  ..., 1.9770e+03, 1.9780e+03,\n' +
        '         1.9790e+03],\n' +
        '        [1.9800e+03, 1.9810e+03, 1.9820e+03,  ..., 1.9970e+03, 1.9980e+03,\n' +
        '         1.9990e+03]])',
    );
    // a dimension of at most 6 is printed whole even when summarising
    assert.equal(
      i64(range(1200), [2, 600]),
      'tensor([[   0,    1,    2,  ...,  597,  598,  599],\n' + '        [ 600,  601,  602,  ..., 1197, 1198, 1199]])',
    );
  });

  it('rejects data that does not match the shape', () => {
    assert.throws(() => f32([1, 2, 3], [2, 2]), RangeError);
  });
});

describe('Python float formatting', () => {
  it('matches Python for fixed and exponential notation', () => {
    assert.equal(pyFixed(0.5, 0), '0');
    assert.equal(pyFixed(1.5, 0), '2');
    assert.equal(pyFixed(2.5, 0), '2');
    assert.equal(pyFixed(-0.00001, 4), '-0.0000');
    assert.equal(pyFixed(1.00005, 4), '1.0001'); // the double is 1.0000500000000001...
    assert.equal(pyExponential(9.99995, 4), '1.0000e+01'); // rounding carries into the exponent
    assert.equal(pyExponential(5e-324, 4), '4.9407e-324');
    assert.equal(pyExponential(Math.fround(1e-45), 4), '1.4013e-45');
    assert.equal(pyExponential(1e100, 4), '1.0000e+100');
    assert.equal(pyExponential(-0, 4), '-0.0000e+00');
  });
});
