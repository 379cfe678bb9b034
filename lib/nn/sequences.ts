// torch.nn.utils.rnn's helpers for lists of variable-length sequences: padSequence / unpadSequence between a
// list and one padded tensor, packSequence / unpackSequence between a list and a PackedSequence. Any dtype, on
// the sequences' device (computed on the host like packing); float32 results are recorded for autograd, so
// gradients flow back to the sequences (or to the padded tensor) as in PyTorch.
import { checkBoolean, checkOptions, describe, sameShape, shapeText } from '../checks';
import { isGradEnabled } from '../autograd/grad-mode';
import { GradNode, needsGrad, recordNode } from '../autograd/node';
import { checkTensorAllocation } from '../limits';
import { AnyTensor, DType, Tensor, itemSize } from '../tensor';
import { HostArray, allocHost, checkAnyTensor, filledHost, placed, rowSize } from './host-rows';
import { PackedSequence, lengthList, packPaddedSequence, padPackedSequence } from './packing';

export interface PadSequenceOptions {
  /** `[B, T, *]` instead of `[T, B, *]` (default false). */
  batchFirst?: boolean;
  /** Value of the padded elements (default 0). */
  paddingValue?: number;
  /** Which end of each shorter sequence gets the padding (default 'right'). */
  paddingSide?: 'left' | 'right';
}

export interface PackSequenceOptions {
  /** Require sequences sorted by decreasing length (default true); false sorts them and records the permutation. */
  enforceSorted?: boolean;
}

export interface UnpadSequenceOptions {
  /** `padded` is `[B, T, *]` instead of `[T, B, *]` (default false). */
  batchFirst?: boolean;
}

/** The sequences as checked tensors: a non-empty array of `[L, *]` tensors of one dtype, device and trailing shape. */
function checkSequences(sequences: unknown): AnyTensor[] {
  if (!Array.isArray(sequences)) throw new TypeError(`Expected an array of Tensors for sequences but received ${describe(sequences)}`);
  if (sequences.length === 0) throw new RangeError('received an empty list of sequences');
  const list = sequences.map((s, i) => checkAnyTensor(`sequences[${i}]`, s));
  const first = list[0];
  list.forEach((s, i) => {
    if (s.ndim === 0) throw new RangeError(`Expected sequences[${i}] to have at least 1 dimension ([L, *]) but received a 0-d tensor`);
    if (s.dtype !== first.dtype) throw new TypeError(`Expected every sequence to have the dtype of sequences[0] (${first.dtype}) but sequences[${i}] is ${s.dtype}`);
    if (s.device !== first.device) {
      throw new Error(`Expected all tensors to be on the same device, but found at least two devices, ${first.device} and ${s.device}! (sequences[${i}] is on ${s.device}, sequences[0] is on ${first.device})`);
    }
    if (!sameShape(s.shape.slice(1), first.shape.slice(1))) {
      throw new RangeError(`Expected every sequence to have the trailing dimensions of sequences[0] ${shapeText(first.shape.slice(1))} but sequences[${i}] has shape ${shapeText(s.shape)}`);
    }
  });
  return list;
}

/**
 * Pads a list of `[L_i, *]` tensors to the longest and stacks them: `[T, B, *]` (`[B, T, *]` with batchFirst),
 * like `torch.nn.utils.rnn.pad_sequence`.
 */
export function padSequence<D extends DType = 'float32'>(sequences: readonly Tensor<D>[], options?: PadSequenceOptions): Tensor<D> {
  const opts = checkOptions('padSequence options', options, ['batchFirst', 'paddingValue', 'paddingSide']);
  const batchFirst = opts.batchFirst === undefined ? false : checkBoolean('batchFirst', opts.batchFirst);
  if (opts.paddingValue !== undefined && typeof opts.paddingValue !== 'number') {
    throw new TypeError(`Expected number for paddingValue but received ${describe(opts.paddingValue)}`);
  }
  const paddingValue = (opts.paddingValue as number | undefined) ?? 0;
  const side = opts.paddingSide === undefined ? 'right' : opts.paddingSide;
  if (typeof side !== 'string') throw new TypeError(`Expected 'left' or 'right' for paddingSide but received ${describe(side)}`);
  if (side !== 'left' && side !== 'right') throw new RangeError(`Expected padding_side to be one of left or right, but got ${side}.`);
  const list = checkSequences(sequences);
  const { dtype, device } = list[0];
  const B = list.length;
  const T = Math.max(...list.map((s) => s.shape[0]));
  const inner = rowSize(list[0].shape, 1);
  checkTensorAllocation(`padSequence output of ${T} x ${B} x ${inner}`, T * B * inner, itemSize(dtype));
  const out = filledHost(dtype, T * B * inner, paddingValue, 'paddingValue');
  /** Where row t of sequence i lands in the output, in elements. */
  const position = (i: number, t: number): number => {
    const step = (side === 'left' ? T - list[i].shape[0] : 0) + t;
    return (batchFirst ? i * T + step : step * B + i) * inner;
  };
  list.forEach((s, i) => {
    const src = s.hostData() as HostArray;
    for (let t = 0; t < s.shape[0]; t++) (out as Float32Array).set((src as Float32Array).subarray(t * inner, (t + 1) * inner), position(i, t));
  });
  const shape = batchFirst ? [B, T, ...list[0].shape.slice(1)] : [T, B, ...list[0].shape.slice(1)];
  const padded = placed(out, shape, dtype, device) as Tensor<DType> as Tensor<D>;
  recordNode(padded as Tensor<DType> as Tensor, 'PadSequenceBackward', list, (g, needs) => list.map((s, i) => {
    if (!needs[i]) return null;
    const grad = new Float32Array(s.numel);
    for (let t = 0; t < s.shape[0]; t++) grad.set(g.subarray(position(i, t), position(i, t) + inner), t * inner);
    return grad;
  }), false);
  return padded;
}

/**
 * Packs a list of `[L_i, *]` tensors: `packPaddedSequence(padSequence(sequences), lengths)`, like
 * `torch.nn.utils.rnn.pack_sequence`. With enforceSorted (the default) the lengths must not increase.
 */
export function packSequence<D extends DType = 'float32'>(sequences: readonly Tensor<D>[], options?: PackSequenceOptions): PackedSequence<D> {
  const opts = checkOptions('packSequence options', options, ['enforceSorted']);
  const enforceSorted = opts.enforceSorted === undefined ? true : checkBoolean('enforceSorted', opts.enforceSorted);
  const padded = padSequence(sequences);
  return packPaddedSequence(padded, sequences.map((s) => s.shape[0]), { enforceSorted });
}

/**
 * Splits a padded `[T, B, *]` tensor (`[B, T, *]` with batchFirst) into B tensors `[lengths[b], *]`, like
 * `torch.nn.utils.rnn.unpad_sequence` (without its in-place transpose of `padded`).
 */
export function unpadSequence<D extends DType = 'float32'>(padded: Tensor<D>, lengths: number[] | AnyTensor, options?: UnpadSequenceOptions): Tensor<D>[] {
  const x = checkAnyTensor('padded', padded) as Tensor<DType> as Tensor<D>;
  const opts = checkOptions('unpadSequence options', options, ['batchFirst']);
  const batchFirst = opts.batchFirst === undefined ? false : checkBoolean('batchFirst', opts.batchFirst);
  if (x.ndim < 2) throw new RangeError(`Expected padded of at least 2 dimensions ([T, B, *], or [B, T, *] with batchFirst) for unpadSequence but received shape ${shapeText(x.shape)}`);
  const T = x.shape[batchFirst ? 1 : 0];
  const B = x.shape[batchFirst ? 0 : 1];
  const lens = lengthList(lengths, B);
  lens.forEach((len, i) => {
    if (len > T) throw new RangeError(`lengths[${i}] = ${len} is longer than the padded sequence length ${T}`);
  });
  const inner = rowSize(x.shape, 2);
  const src = x.hostData() as HostArray;
  const position = (b: number, t: number): number => (batchFirst ? b * T + t : t * B + b) * inner;
  const outputs = lens.map((len, b) => {
    const rows = allocHost(x.dtype, len * inner);
    for (let t = 0; t < len; t++) (rows as Float32Array).set((src as Float32Array).subarray(position(b, t), position(b, t) + inner), t * inner);
    return placed(rows, [len, ...x.shape.slice(2)], x.dtype, x.device);
  });
  recordUnpad(x as Tensor<DType> as Tensor, outputs as Tensor<DType>[] as Tensor[], lens, position, inner);
  return outputs;
}

/**
 * One node for all of unpadSequence's outputs, so that backward builds the padded tensor's gradient once (zeros
 * where padding was) instead of once per sequence.
 */
function recordUnpad(input: Tensor, outputs: Tensor[], lens: number[], position: (b: number, t: number) => number, inner: number): void {
  if (!isGradEnabled() || input.dtype !== 'float32' || !needsGrad(input)) return;
  const node: GradNode = {
    name: 'UnpadSequenceBackward',
    inputs: [input],
    outputCount: outputs.length,
    backward(gradOutputs) {
      // no device: the engine hands over host gradients, and moves the result to a CUDA input's device
      const grad = new Float32Array(input.numel);
      gradOutputs.forEach((g, b) => {
        for (let t = 0; g && t < lens[b]; t++) grad.set((g as Float32Array).subarray(t * inner, (t + 1) * inner), position(b, t));
      });
      return [grad];
    },
    release() {},
  };
  outputs.forEach((t, b) => {
    t.gradFn = node;
    t.outputIndex = b;
  });
}

/** The sequences of a PackedSequence as a list of `[L_i, *]` tensors in the original order (`unpack_sequence`). */
export function unpackSequence<D extends DType = 'float32'>(packed: PackedSequence<D>): Tensor<D>[] {
  if (!(packed instanceof PackedSequence)) throw new TypeError(`Expected a PackedSequence for packed but received ${describe(packed)}`);
  const [padded, lengths] = padPackedSequence(packed, { batchFirst: true });
  return unpadSequence(padded, lengths, { batchFirst: true });
}
