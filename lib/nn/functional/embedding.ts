// torch.nn.functional.embedding: rows of a weight matrix at int64 indices (validated on the host, where int64
// tensors live), the gradient scatter-added into the rows except the padding row's; host loop and device branch.
import { checkInteger, describe, shapeText } from '../../checks';
import { TensorKernels, kernelsFor } from '../../autograd/device-kernels';
import { alloc, recordOn, wrap, zeros } from '../../autograd/device-support';
import { checkTensorAllocation } from '../../limits';
import { Tensor, checkTensor } from '../../tensor';
import { F32, buf, record, toFloat32 } from './common';

/**
 * Rows of `weight` `[numEmbeddings, dim]` at `indices` (int64, any shape) -> `[...indices.shape, dim]`
 * (torch.nn.functional.embedding). The gradient is scatter-added into the weight rows, except the `paddingIdx`
 * row (negative counts from the end), which gets none.
 */
export function embedding(indices: Tensor<'int64'>, weight: Tensor<'float32'>, paddingIdx?: number | null): Tensor<'float32'> {
  if (!(indices instanceof Tensor)) throw new TypeError(`Expected a Tensor for indices but received ${describe(indices)}`);
  if (indices.disposed) throw new Error('indices is a disposed Tensor; it can no longer be used');
  if (indices.dtype !== 'int64') {
    throw new TypeError(`Expected an int64 Tensor for indices but received dtype ${indices.dtype} (embedding looks rows up by integer index)`);
  }
  const w = checkTensor('weight', weight);
  if (w.ndim !== 2) throw new RangeError(`'weight' must be 2-D (received shape ${shapeText(w.shape)})`);
  const [num, dim] = w.shape;
  let padding = -1;
  if (paddingIdx !== undefined && paddingIdx !== null) {
    const p = checkInteger('paddingIdx', paddingIdx, { min: Number.MIN_SAFE_INTEGER });
    if (p < -num || p >= num) throw new RangeError(`Padding_idx must be within num_embeddings (paddingIdx ${p}, numEmbeddings ${num})`);
    padding = p < 0 ? p + num : p;
  }
  const idx = indices.data;
  const rows = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i];
    if (v < 0n || v >= BigInt(num)) throw new RangeError(`index out of range in self (index ${v} with numEmbeddings ${num})`);
    rows[i] = Number(v);
  }
  // the indices stay on the host (int64 tensors live there) whatever the weight's device
  const k = kernelsFor([['weight', w]]);
  if (k) return embeddingOnDevice(k, w, BigInt64Array.from(rows, BigInt), padding, [...indices.shape, dim]);
  const wd = w.data;
  checkTensorAllocation(`embedding output of ${rows.length} rows of ${dim}`, rows.length * dim);
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(wd.subarray(r * dim, (r + 1) * dim), i * dim));
  const y = new Tensor(out, [...indices.shape, dim]);
  record('Embedding', y, [w], (g) => {
    const acc = new Float64Array(num * dim);
    rows.forEach((r, i) => {
      if (r === padding) return;
      const from = i * dim;
      const to = r * dim;
      for (let k = 0; k < dim; k++) acc[to + k] += g[from + k];
    });
    return [toFloat32(acc)];
  });
  return y;
}

/** Rows of `weight` [num, dim] at the flat, validated `rows`; the `padding` row (-1: none) gets no gradient. */
function embeddingOnDevice(k: TensorKernels, w: F32, rows: BigInt64Array, padding: number, outShape: number[]): F32 {
  const [num, dim] = w.shape;
  const out = alloc(k, 'embedding output', outShape);
  if (rows.length > 0 && dim > 0) k.indexSelect(out, buf(w), 1, num, dim, rows);
  const y = wrap(out, outShape);
  recordOn(k, y, 'EmbeddingBackward', [w], (g) => {
    const gw = zeros(k, num * dim);
    if (rows.length > 0 && dim > 0) k.indexAdd(gw, g, 1, num, dim, rows, padding);
    return [gw];
  });
  return y;
}
