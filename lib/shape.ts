// Shape arithmetic shared by the tensor, its ops (host and device) and torch.nn.functional: element counts,
// row-major strides and numpy/PyTorch broadcasting. Tensors here are always contiguous and row-major.
import { sameShape } from './checks';

/** The number of elements of a tensor of `shape` (1 for a 0-d shape). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguous(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Strides that read a tensor of `shape` as if broadcast to `out` (0 along broadcast dims). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const own = contiguous(shape);
  const offset = out.length - shape.length;
  return out.map((_, i) => (i - offset >= 0 && shape[i - offset] !== 1 ? own[i - offset] : 0));
}

/** numpy/PyTorch broadcasting of two shapes (PyTorch's message when they do not broadcast). */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    const offset = n - 1 - i;
    const sa = a.length - 1 - offset >= 0 ? a[a.length - 1 - offset] : 1;
    const sb = b.length - 1 - offset >= 0 ? b[b.length - 1 - offset] : 1;
    if (sa === sb || sb === 1) out[i] = sa;
    else if (sa === 1) out[i] = sb;
    else throw new RangeError(`The size of tensor a (${sa}) must match the size of tensor b (${sb}) at non-singleton dimension ${i}`);
  }
  return out;
}

/** For each element (row-major) of a tensor of `shape`, the flat source index `sum(index[i] * strides[i])`. */
export function stridedMap(shape: readonly number[], strides: readonly number[]): Int32Array {
  const total = numel(shape);
  const map = new Int32Array(total);
  const n = shape.length;
  const counter = new Array<number>(n).fill(0);
  let pos = 0;
  for (let k = 0; k < total; k++) {
    map[k] = pos;
    for (let d = n - 1; d >= 0; d--) {
      counter[d]++;
      pos += strides[d];
      if (counter[d] < shape[d]) break;
      pos -= strides[d] * shape[d];
      counter[d] = 0;
    }
  }
  return map;
}

/**
 * For each element of `out`, the flat index of the element of `shape` (which broadcasts to `out`: the caller
 * checked) it reads; null when the shapes are equal.
 */
export function broadcastMap(shape: readonly number[], out: readonly number[]): Int32Array | null {
  if (sameShape(shape, out)) return null;
  return stridedMap(out, broadcastStrides(shape, out));
}

/** [outer, size, inner] around dimension `d` of `shape` (a 0-d shape is [1, 1, 1]). */
export function around(shape: readonly number[], d: number): [number, number, number] {
  if (shape.length === 0) return [1, 1, 1];
  return [numel(shape.slice(0, d)), shape[d], numel(shape.slice(d + 1))];
}
