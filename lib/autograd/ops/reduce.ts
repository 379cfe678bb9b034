// Reductions over dims (sum, mean) and the normalizations along one dim (softmax, logSoftmax): each op's checks,
// host loop (float64 accumulation), device branch and backward side by side.
import { checkBoolean, describe } from '../../checks';
import { DType, Tensor } from '../../tensor';
import { around, broadcastMap, broadcastStrides, numel } from '../../shape';
import { BINARY, Buf, TensorKernels, filled } from '../device-kernels';
import { alloc, binaryInto, opOf, recordOn, sumDims, wrap } from '../device-support';
import { F32, checkFloat, deviceOf, record, wrapDim } from './common';

// ---------------------------------------------------------------------------------------------------------
// Reductions

/** The reduced dimensions (a flag per dimension) and the shape with them kept as 1. */
function reduction(op: string, x: Tensor<DType>, dim: unknown, keepdim: unknown): { keptShape: number[]; outShape: number[]; count: number } {
  checkBoolean('keepdim', keepdim);
  const ndim = x.ndim;
  const reduced = new Array<boolean>(ndim).fill(false);
  if (dim === undefined || dim === null || (Array.isArray(dim) && dim.length === 0)) reduced.fill(true);
  else {
    const list: unknown[] = Array.isArray(dim) ? dim : [dim];
    if (!Array.isArray(dim) && typeof dim !== 'number') {
      throw new TypeError(`Expected an integer or an array of integers for dim of ${op} but received ${describe(dim)}`);
    }
    const seen = new Set<number>();
    list.forEach((d, i) => {
      const w = wrapDim(d, ndim, Array.isArray(dim) ? `dim[${i}]` : 'dim');
      if (seen.has(w)) throw new RangeError(`dim ${w} appears multiple times in the list of dims`);
      seen.add(w);
      if (ndim > 0) reduced[w] = true;
    });
  }
  const keptShape = x.shape.map((s, i) => (reduced[i] ? 1 : s));
  const outShape = keepdim ? keptShape : x.shape.filter((_, i) => !reduced[i]);
  const count = numel(x.shape.filter((_, i) => reduced[i]));
  return { keptShape, outShape, count };
}

function reduce(op: string, name: string, input: unknown, dim: unknown, keepdim: unknown, isMean: boolean): F32 {
  const x = checkFloat(op, 'input', input);
  const { keptShape, outShape, count } = reduction(op, x, dim, keepdim);
  const k = deviceOf([['input', x]]);
  if (k) return reduceOnDevice(k, name, x, keptShape.map((s) => s === 1), outShape, isMean ? 1 / count : 1);
  const map = broadcastMap(keptShape, x.shape);
  const xs = x.data;
  const acc = new Float64Array(numel(outShape));
  if (map === null) acc.set(xs);
  else for (let k = 0; k < xs.length; k++) acc[map[k]] += xs[k];
  if (isMean) for (let i = 0; i < acc.length; i++) acc[i] /= count;
  const result = new Tensor(Float32Array.from(acc), outShape);
  record(result, name, [x], (g) => {
    const gx = new Float32Array(xs.length);
    const scale = isMean ? 1 / count : 1;
    for (let k = 0; k < gx.length; k++) gx[k] = g[map ? map[k] : k] * scale;
    return [gx];
  });
  return result;
}

/** Sum (scale 1) or mean (scale 1/count) over the flagged dims; `outShape` is the result's (keepdim applied). */
function reduceOnDevice(k: TensorKernels, name: string, x: F32, reduced: readonly boolean[], outShape: number[], scale: number): F32 {
  const out = sumDims(k, x.storage() as Buf, x.shape, reduced, scale);
  const result = wrap(out, outShape);
  const kept = x.shape.map((n, i) => (reduced[i] ? 1 : n));
  recordOn(k, result, name, [x], (g) => {
    const gx = alloc(k, `${opOf(name)} gradient`, x.shape);
    const s = filled(k, 1, scale);
    try {
      binaryInto(k, BINARY.mul, gx, g, broadcastStrides(kept, x.shape), s, x.shape.map(() => 0), x.shape, 1);
    } finally {
      k.free(s);
    }
    return [gx];
  }, false);
  return result;
}

/** Sum over `dim` (an integer or an array; all elements when omitted, giving a 0-d tensor). */
export function sum(input: F32, dim?: number | readonly number[] | null, keepdim = false): F32 {
  return reduce('sum', 'SumBackward1', input, dim, keepdim, false);
}

/** Mean over `dim` (an integer or an array; all elements when omitted, giving a 0-d tensor). */
export function mean(input: F32, dim?: number | readonly number[] | null, keepdim = false): F32 {
  return reduce('mean', 'MeanBackward1', input, dim, keepdim, true);
}

// ---------------------------------------------------------------------------------------------------------
// Softmax

function softmaxOp(op: string, name: string, input: unknown, dim: unknown, logarithm: boolean): F32 {
  const x = checkFloat(op, 'input', input);
  if (dim === undefined) throw new TypeError(`Expected integer for dim of ${op} but received undefined (softmax needs the dimension to normalize over)`);
  const d = wrapDim(dim, x.ndim);
  const [outer, size, inner] = around(x.shape, d);
  const k = deviceOf([['input', x]]);
  if (k) return softmaxOnDevice(k, name, x, outer, size, inner, logarithm);
  const xs = x.data;
  const out = new Float32Array(xs.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * size * inner + i;
      let max = -Infinity;
      for (let s = 0; s < size; s++) max = Math.max(max, xs[base + s * inner]);
      if (max === -Infinity) max = 0; // all -inf: exp gives 0s (NaN after normalizing, like PyTorch)
      let total = 0;
      for (let s = 0; s < size; s++) total += Math.exp(xs[base + s * inner] - max);
      if (logarithm) {
        const shift = max + Math.log(total);
        for (let s = 0; s < size; s++) out[base + s * inner] = xs[base + s * inner] - shift;
      } else {
        for (let s = 0; s < size; s++) out[base + s * inner] = Math.exp(xs[base + s * inner] - max) / total;
      }
    }
  }
  const result = new Tensor(out, x.shape);
  record(
    result,
    name,
    [x],
    (g) => {
      const gx = new Float32Array(xs.length);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * size * inner + i;
          let dot = 0;
          if (logarithm) {
            // d logsoftmax: g - softmax * sum(g)
            for (let s = 0; s < size; s++) dot += g[base + s * inner];
            for (let s = 0; s < size; s++) gx[base + s * inner] = g[base + s * inner] - Math.exp(out[base + s * inner]) * dot;
          } else {
            // d softmax: y * (g - sum(g * y))
            for (let s = 0; s < size; s++) dot += g[base + s * inner] * out[base + s * inner];
            for (let s = 0; s < size; s++) gx[base + s * inner] = out[base + s * inner] * (g[base + s * inner] - dot);
          }
        }
      }
      return [gx];
    },
    true,
  );
  return result;
}

function softmaxOnDevice(k: TensorKernels, name: string, x: F32, outer: number, size: number, inner: number, log: boolean): F32 {
  const out = alloc(k, `${log ? 'logSoftmax' : 'softmax'} result`, x.shape);
  k.softmax(out, x.storage() as Buf, outer, size, inner, log);
  const result = wrap(out, x.shape);
  recordOn(k, result, name, [x], (g) => {
    const gx = alloc(k, `${opOf(name)} gradient`, x.shape);
    k.softmaxBackward(gx, g, out, outer, size, inner, log);
    return [gx];
  });
  return result;
}

/** exp(x) / sum(exp(x)) along `dim`, computed with the maximum subtracted (numerically stable). */
export function softmax(input: F32, dim: number): F32 {
  return softmaxOp('softmax', 'SoftmaxBackward0', input, dim, false);
}

/** x - log(sum(exp(x))) along `dim`, computed with the maximum subtracted (numerically stable). */
export function logSoftmax(input: F32, dim: number): F32 {
  return softmaxOp('logSoftmax', 'LogSoftmaxBackward0', input, dim, true);
}
