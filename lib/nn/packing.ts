// PyTorch's PackedSequence: the time steps of a batch of variable-length sequences, longest first,
// with the batch shrinking as sequences end. The recurrent layers consume it natively (rows per step).
// Packing and padding work on any dtype, like PyTorch's (float32 data is recorded for autograd).
import { checkBoolean, checkInteger, checkOptions, describe } from '../checks';
import { recordNode } from '../autograd/node';
import { checkTensorAllocation } from '../limits';
import { FloatDType } from '../half';
import { AnyTensor, DType, DeviceLike, Tensor, ToOptions, itemSize } from '../tensor';
import { tensor } from '../factories';
import { HostArray, allocHost, checkAnyTensor, filledHost, placed, rowSize } from './host-rows';

export class PackedSequence<D extends DType = 'float32'> {
  /**
   * @param data [sum(lengths), *] the packed steps
   * @param batchSizes how many sequences are active at each step (non-increasing)
   * @param sortedIndices position in the original batch of each sorted sequence (null when it was sorted)
   * @param unsortedIndices the inverse permutation
   */
  constructor(
    readonly data: Tensor<D>,
    readonly batchSizes: Tensor<'int64'>,
    readonly sortedIndices: Tensor<'int64'> | null = null,
    readonly unsortedIndices: Tensor<'int64'> | null = null,
  ) {}

  /** Batch sizes as plain numbers (validated once). */
  batchSizeList(): number[] {
    return Array.from(this.batchSizes.data, Number);
  }

  /**
   * The sequence with `data` moved and/or converted like `Tensor.to` (device, dtype, both, or `{ device, dtype }`);
   * itself when `data` does not change, as in PyTorch. `batchSizes` stays on the CPU (PyTorch's rule); the
   * indices do too, since int64 tensors live on the CPU here. Differentiable through `data` like `Tensor.to`.
   */
  to(device: DeviceLike): PackedSequence<D>;
  to<T extends FloatDType>(dtype: T): PackedSequence<T>;
  to<T extends FloatDType>(device: DeviceLike, dtype: T): PackedSequence<T>;
  to(options: ToOptions): PackedSequence<DType>;
  to(...args: unknown[]): PackedSequence<DType> {
    const data = (this.data.to as (...a: unknown[]) => Tensor<DType>)(...args);
    if (data === (this.data as Tensor<DType>)) return this as PackedSequence<DType>;
    return new PackedSequence(data, this.batchSizes, this.sortedIndices, this.unsortedIndices);
  }

  /** `to('cuda:<index>')`. */
  cuda(index = 0): PackedSequence<D> {
    return this.to(`cuda:${checkInteger('index', index, { min: 0 })}` as DeviceLike);
  }

  /** `to('cpu')`. */
  cpu(): PackedSequence<D> {
    return this.to('cpu');
  }
}

export interface PackOptions {
  batchFirst?: boolean;
  /** Require lengths sorted in decreasing order (default true); false sorts them and records the permutation. */
  enforceSorted?: boolean;
}

/** `lengths` (an array of integers or a tensor) as numbers, one per batch entry. */
export function lengthList(lengths: unknown, batch: number): number[] {
  let list: unknown[];
  if (Array.isArray(lengths)) list = lengths;
  else if (lengths instanceof Tensor && !lengths.disposed) list = Array.from(lengths.hostData() as ArrayLike<number | bigint>, Number);
  else throw new TypeError(`Expected an array of integers or a Tensor for lengths but received ${describe(lengths)}`);
  if (list.length !== batch) {
    throw new RangeError(`Expected \`len(lengths)\` to be equal to batch_size, but got ${list.length} (batch_size=${batch})`);
  }
  return list.map((v, i) => checkInteger(`lengths[${i}]`, v, { min: 0 }));
}

const toInt64 = (v: readonly number[]) => tensor(BigInt64Array.from(v, BigInt), [v.length]);

/**
 * Packs a padded batch `[T, B, *]` (or `[B, T, *]` with batchFirst) of sequences with the given lengths. The packed
 * data is on the input's device (a CUDA input is packed on the host: downloaded and the result uploaded); batch
 * sizes and indices are CPU int64 tensors, as in PyTorch.
 */
export function packPaddedSequence<D extends DType = 'float32'>(input: Tensor<D>, lengths: number[] | AnyTensor, options?: PackOptions): PackedSequence<D> {
  const opts = checkOptions('packPaddedSequence options', options, ['batchFirst', 'enforceSorted']);
  const batchFirst = opts.batchFirst === undefined ? false : checkBoolean('batchFirst', opts.batchFirst);
  const enforceSorted = opts.enforceSorted === undefined ? true : checkBoolean('enforceSorted', opts.enforceSorted);
  const x = checkAnyTensor('input', input) as Tensor<DType> as Tensor<D>;
  // PyTorch's first check: without it an empty batch packs to nothing, which fails later with an unrelated message
  if (x.numel === 0) throw new RangeError(`Cannot pack empty tensors. (input has shape [${x.shape.join(', ')}])`);
  if (x.ndim < 2) throw new RangeError(`Expected input of at least 2 dimensions [T, B, *] for packPaddedSequence but received shape [${x.shape.join(', ')}]`);
  const T = x.shape[batchFirst ? 1 : 0];
  const B = x.shape[batchFirst ? 0 : 1];
  const lens = lengthList(lengths, B);
  const inner = rowSize(x.shape, 2);
  lens.forEach((len, i) => {
    if (len === 0) throw new RangeError(`Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0 (lengths[${i}] = 0)`);
    if (len > T) throw new RangeError(`lengths[${i}] = ${len} is longer than the input's sequence length ${T}`);
  });
  let order = lens.map((_, i) => i);
  if (enforceSorted) {
    for (let i = 1; i < B; i++) {
      if (lens[i] > lens[i - 1]) {
        throw new RangeError('`lengths` array must be sorted in decreasing order when `enforceSorted` is true. You can pass `enforceSorted: false` to packPaddedSequence and/or packSequence to sidestep this requirement if you do not need ONNX exportability.');
      }
    }
  } else {
    order = order.sort((a, b) => lens[b] - lens[a] || a - b);
  }
  const maxLen = lens[order[0]];
  const batchSizes: number[] = [];
  for (let t = 0; t < maxLen; t++) batchSizes.push(order.filter((i) => lens[i] > t).length);
  const total = batchSizes.reduce((a, b) => a + b, 0);
  const data = allocHost(x.dtype, total * inner);
  const src = x.hostData() as HostArray;
  const positions = new Int32Array(total); // where each packed row sits in the padded input, in elements
  let row = 0;
  for (let t = 0; t < maxLen; t++) {
    for (let k = 0; k < batchSizes[t]; k++) {
      const b = order[k];
      const from = (batchFirst ? b * T + t : t * B + b) * inner;
      (data as Float32Array).set((src as Float32Array).subarray(from, from + inner), row * inner);
      positions[row] = from;
      row++;
    }
  }
  const unsorted = new Array<number>(B);
  order.forEach((b, k) => (unsorted[b] = k));
  const packedData = placed(data, [total, ...x.shape.slice(2)], x.dtype, x.device);
  recordRowMap('PackPaddedSequence', x, packedData, positions, inner, 'gather');
  return new PackedSequence(
    packedData,
    toInt64(batchSizes),
    enforceSorted ? null : toInt64(order),
    enforceSorted ? null : toInt64(unsorted),
  );
}

export interface PadOptions {
  batchFirst?: boolean;
  paddingValue?: number;
  /** Pad to this many steps (at least the longest sequence). */
  totalLength?: number;
}

/**
 * Inverse of `packPaddedSequence`: `[padded, lengths]` in the original batch order. The padded tensor is on the
 * packed data's device (done on the host for CUDA); lengths are a CPU int64 tensor, as in PyTorch.
 */
export function padPackedSequence<D extends DType = 'float32'>(sequence: PackedSequence<D>, options?: PadOptions): [Tensor<D>, Tensor<'int64'>] {
  if (!(sequence instanceof PackedSequence)) throw new TypeError(`Expected a PackedSequence for sequence but received ${describe(sequence)}`);
  const opts = checkOptions('padPackedSequence options', options, ['batchFirst', 'paddingValue', 'totalLength']);
  const batchFirst = opts.batchFirst === undefined ? false : checkBoolean('batchFirst', opts.batchFirst);
  if (opts.paddingValue !== undefined && typeof opts.paddingValue !== 'number') {
    throw new TypeError(`Expected number for paddingValue but received ${describe(opts.paddingValue)}`);
  }
  const paddingValue = (opts.paddingValue as number | undefined) ?? 0;
  const sizes = sequence.batchSizeList();
  if (sizes.length === 0) throw new RangeError('batch_sizes can not be empty');
  const maxLen = sizes.length;
  const B = sizes[0];
  let T = maxLen;
  if (opts.totalLength !== undefined) {
    T = checkInteger('totalLength', opts.totalLength, { min: 0 });
    if (T < maxLen) {
      throw new RangeError(`Expected total_length to be at least the length of the longest sequence in input, but got total_length=${T} and max sequence length being ${maxLen}`);
    }
  }
  const data = checkAnyTensor('sequence.data', sequence.data) as Tensor<DType> as Tensor<D>;
  const src = data.hostData() as HostArray;
  const inner = rowSize(data.shape, 1);
  checkTensorAllocation(`padPackedSequence output of ${T} x ${B} x ${inner}`, T * B * inner, itemSize(data.dtype));
  const out = filledHost(data.dtype, T * B * inner, paddingValue, 'paddingValue');
  const sortedLengths = new Array<number>(B).fill(0);
  const original = sequence.sortedIndices ? Array.from(sequence.sortedIndices.data, Number) : [...Array(B).keys()];
  const positions = new Int32Array(data.shape[0]);
  let row = 0;
  for (let t = 0; t < maxLen; t++) {
    for (let k = 0; k < sizes[t]; k++) {
      const b = original[k];
      const to = (batchFirst ? b * T + t : t * B + b) * inner;
      (out as Float32Array).set((src as Float32Array).subarray(row * inner, (row + 1) * inner), to);
      positions[row] = to;
      sortedLengths[k]++;
      row++;
    }
  }
  const lengths = new BigInt64Array(B);
  sortedLengths.forEach((len, k) => (lengths[original[k]] = BigInt(len)));
  const shape = batchFirst ? [B, T, ...data.shape.slice(1)] : [T, B, ...data.shape.slice(1)];
  const padded = placed(out, shape, data.dtype, data.device);
  recordRowMap('PadPackedSequence', data, padded, positions, inner, 'scatter');
  return [padded, new Tensor(lengths, [B])];
}

/**
 * Records packing ('gather': output row r = input at positions[r]) or unpacking ('scatter': output at
 * positions[r] = input row r) for autograd; the gradient applies the opposite map. Only float32 is recorded.
 */
function recordRowMap(name: string, input: Tensor<DType>, output: Tensor<DType>, positions: Int32Array, inner: number, kind: 'gather' | 'scatter'): void {
  // gradients reach this node on the host (recordNode); the engine moves them to a CUDA input's device
  recordNode(output as Tensor, `${name}Backward`, [input], (g) => {
    const grad = new Float32Array(input.numel);
    positions.forEach((pos, r) => {
      if (kind === 'gather') grad.set(g.subarray(r * inner, (r + 1) * inner), pos);
      else grad.set(g.subarray(pos, pos + inner), r * inner);
    });
    return [grad];
  }, false);
}
