// PyTorch's PackedSequence: the time steps of a batch of variable-length sequences, longest first,
// with the batch shrinking as sequences end. The recurrent layers consume it natively (rows per step).
import { checkBoolean, checkInteger, checkOptions, describe } from '../checks';
import { DeviceBuffer } from '../binding';
import { copyStorage } from '../cuda';
import { recordNode } from '../autograd/node';
import { checkTensorAllocation } from '../limits';
import { AnyTensor, Tensor, checkTensor, tensor } from '../tensor';

/** A float32 tensor of `host`'s values on `like`'s device (`host` itself on the CPU). */
function onDeviceOf(like: Tensor<'float32'>, host: Float32Array, shape: readonly number[]): Tensor<'float32'> {
  if (like.device === 'cpu') return new Tensor(host, shape);
  return new Tensor(copyStorage(host, like.device) as DeviceBuffer, shape);
}

export class PackedSequence {
  /**
   * @param data [sum(lengths), *] the packed steps
   * @param batchSizes how many sequences are active at each step (non-increasing)
   * @param sortedIndices position in the original batch of each sorted sequence (null when it was sorted)
   * @param unsortedIndices the inverse permutation
   */
  constructor(
    readonly data: Tensor<'float32'>,
    readonly batchSizes: Tensor<'int64'>,
    readonly sortedIndices: Tensor<'int64'> | null = null,
    readonly unsortedIndices: Tensor<'int64'> | null = null,
  ) {}

  /** Batch sizes as plain numbers (validated once). */
  batchSizeList(): number[] {
    return Array.from(this.batchSizes.data, Number);
  }
}

export interface PackOptions {
  batchFirst?: boolean;
  /** Require lengths sorted in decreasing order (default true); false sorts them and records the permutation. */
  enforceSorted?: boolean;
}

function lengthList(lengths: unknown, batch: number): number[] {
  let list: unknown[];
  if (Array.isArray(lengths)) list = lengths;
  else if (lengths instanceof Tensor && !lengths.disposed) list = Array.from(lengths.hostData() as ArrayLike<number | bigint>, Number);
  else throw new TypeError(`Expected an array of integers or a Tensor for lengths but received ${describe(lengths)}`);
  if (list.length !== batch) {
    throw new RangeError(`Expected \`len(lengths)\` to be equal to batch_size, but got ${list.length} (batch_size=${batch})`);
  }
  return list.map((v, i) => checkInteger(`lengths[${i}]`, v, { min: 0 }));
}

/**
 * Packs a padded batch `[T, B, *]` (or `[B, T, *]` with batchFirst) of sequences with the given lengths. The packed
 * data is on the input's device (a CUDA input is packed on the host: downloaded and the result uploaded); batch
 * sizes and indices are CPU int64 tensors, as in PyTorch.
 */
export function packPaddedSequence(input: Tensor<'float32'>, lengths: number[] | AnyTensor, options?: PackOptions): PackedSequence {
  const opts = checkOptions('packPaddedSequence options', options, ['batchFirst', 'enforceSorted']);
  const batchFirst = opts.batchFirst === undefined ? false : checkBoolean('batchFirst', opts.batchFirst);
  const enforceSorted = opts.enforceSorted === undefined ? true : checkBoolean('enforceSorted', opts.enforceSorted);
  const x = checkTensor('input', input);
  if (x.ndim < 2) throw new RangeError(`Expected input of at least 2 dimensions [T, B, *] for packPaddedSequence but received shape [${x.shape.join(', ')}]`);
  const T = x.shape[batchFirst ? 1 : 0];
  const B = x.shape[batchFirst ? 0 : 1];
  const lens = lengthList(lengths, B);
  const inner = x.shape.slice(2).reduce((a, b) => a * b, 1);
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
  const data = new Float32Array(total * inner);
  const src = x.hostData();
  const positions = new Int32Array(total);  // where each packed row sits in the padded input, in elements
  let row = 0;
  for (let t = 0; t < maxLen; t++) {
    for (let k = 0; k < batchSizes[t]; k++) {
      const b = order[k];
      const from = (batchFirst ? b * T + t : t * B + b) * inner;
      data.set(src.subarray(from, from + inner), row * inner);
      positions[row] = from;
      row++;
    }
  }
  const toInt64 = (v: number[]) => tensor(BigInt64Array.from(v, BigInt), [v.length]);
  const unsorted = new Array<number>(B);
  order.forEach((b, k) => (unsorted[b] = k));
  const packedData = onDeviceOf(x, data, [total, ...x.shape.slice(2)]);
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
export function padPackedSequence(sequence: PackedSequence, options?: PadOptions): [Tensor<'float32'>, Tensor<'int64'>] {
  if (!(sequence instanceof PackedSequence)) throw new TypeError(`Expected a PackedSequence for sequence but received ${describe(sequence)}`);
  const opts = checkOptions('padPackedSequence options', options, ['batchFirst', 'paddingValue', 'totalLength']);
  const batchFirst = opts.batchFirst === undefined ? false : checkBoolean('batchFirst', opts.batchFirst);
  if (opts.paddingValue !== undefined && typeof opts.paddingValue !== 'number') {
    throw new TypeError(`Expected number for paddingValue but received ${describe(opts.paddingValue)}`);
  }
  const paddingValue = (opts.paddingValue as number | undefined) ?? 0;
  const sizes = sequence.batchSizeList();
  const maxLen = sizes.length;
  const B = sizes[0];
  let T = maxLen;
  if (opts.totalLength !== undefined) {
    T = checkInteger('totalLength', opts.totalLength, { min: 0 });
    if (T < maxLen) {
      throw new RangeError(`Expected total_length to be at least the length of the longest sequence in input, but got total_length=${T} and max sequence length being ${maxLen}`);
    }
  }
  const data = checkTensor('sequence.data', sequence.data);
  const src = data.hostData();
  const inner = data.shape.slice(1).reduce((a, b) => a * b, 1);
  checkTensorAllocation(`padPackedSequence output of ${T} x ${B} x ${inner}`, T * B * inner);
  const out = new Float32Array(T * B * inner).fill(paddingValue);
  const sortedLengths = new Array<number>(B).fill(0);
  const original = sequence.sortedIndices ? Array.from(sequence.sortedIndices.data, Number) : [...Array(B).keys()];
  const positions = new Int32Array(data.shape[0]);
  let row = 0;
  for (let t = 0; t < maxLen; t++) {
    for (let k = 0; k < sizes[t]; k++) {
      const b = original[k];
      const to = (batchFirst ? b * T + t : t * B + b) * inner;
      out.set(src.subarray(row * inner, (row + 1) * inner), to);
      positions[row] = to;
      sortedLengths[k]++;
      row++;
    }
  }
  const lengths = new BigInt64Array(B);
  sortedLengths.forEach((len, k) => (lengths[original[k]] = BigInt(len)));
  const shape = batchFirst ? [B, T, ...data.shape.slice(1)] : [T, B, ...data.shape.slice(1)];
  const padded = onDeviceOf(data, out, shape);
  recordRowMap('PadPackedSequence', data, padded, positions, inner, 'scatter');
  return [padded, new Tensor(lengths, [B])];
}

/**
 * Records packing ('gather': output row r = input at positions[r]) or unpacking ('scatter': output at
 * positions[r] = input row r) for autograd; the gradient applies the opposite map.
 */
function recordRowMap(name: string, input: Tensor<'float32'>, output: Tensor<'float32'>, positions: Int32Array, inner: number, kind: 'gather' | 'scatter'): void {
  // gradients reach this node on the host (recordNode); the engine moves them to a CUDA input's device
  recordNode(output, `${name}Backward`, [input], (g) => {
    const grad = new Float32Array(input.numel);
    positions.forEach((pos, r) => {
      if (kind === 'gather') grad.set(g.subarray(r * inner, (r + 1) * inner), pos);
      else grad.set(g.subarray(pos, pos + inner), r * inner);
    });
    return [grad];
  }, false);
}
