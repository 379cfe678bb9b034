// What the device branches of the ops (./ops/*) and of torch.nn.functional (lib/nn/functional/*) share: memory
// checked against the memory limit, node recording on the device, strided copies and binary ops with adjacent dims
// merged to fit the kernels' limit, and sums over dims (reductions, and broadcast gradients summed back to an
// operand's shape).
import { shapeText } from '../checks';
import { checkTensorAllocation } from '../limits';
import { contiguous, numel } from '../shape';
import { DType, Tensor } from '../tensor';
import { BINARY, BinaryCode, Buf, MAX_DIMS, TensorKernels, filled } from './device-kernels';
import { recordNode } from './node';

export type F32 = Tensor<'float32'>;
type Backward = (g: Buf, needs: boolean[]) => (Buf | null)[];

/**
 * Merges adjacent dims that both operands step through contiguously and drops size-1 dims, so that views of many
 * dims fit the kernels' limit; a RangeError when they still do not.
 */
function collapse(shape: readonly number[], s0: readonly number[], s1: readonly number[]): [number[], number[], number[]] {
  const size: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  shape.forEach((n, d) => {
    if (n === 1) return;
    const last = size.length - 1;
    if (last >= 0 && a[last] === s0[d] * n && b[last] === s1[d] * n) {
      size[last] *= n;
      a[last] = s0[d];
      b[last] = s1[d];
    } else {
      size.push(n);
      a.push(s0[d]);
      b.push(s1[d]);
    }
  });
  if (size.length > MAX_DIMS) {
    throw new RangeError(`CUDA tensor ops take views of at most ${MAX_DIMS} dimensions (after merging contiguous ones) but this one needs ${size.length}: ${shapeText(shape)}`);
  }
  return [size, a, b];
}

export function stridedCopy(k: TensorKernels, dst: Buf, dOff: number, dStr: readonly number[], src: Buf, sOff: number,
  sStr: readonly number[], shape: readonly number[]): void {
  if (numel(shape) === 0) return;
  const [size, a, b] = collapse(shape, dStr, sStr);
  k.stridedCopy(dst, dOff, a, src, sOff, b, size);
}

export function binaryInto(k: TensorKernels, op: BinaryCode, out: Buf, a: Buf, aStr: readonly number[], b: Buf, bStr: readonly number[],
  shape: readonly number[], alpha: number): void {
  if (numel(shape) === 0) return;
  const [size, sa, sb] = collapse(shape, aStr, bStr);
  k.binary(op, out, a, sa, b, sb, size, alpha);
}

/** The op a node name stands for, for messages: AddBackward0 -> add, IndexSelectBackward0 -> indexSelect. */
export function opOf(name: string): string {
  const base = name.replace(/Backward\d*$/, '');
  return base.charAt(0).toLowerCase() + base.slice(1);
}

/** New memory for a result of `shape`, checked against the memory limit first. */
export function alloc(k: TensorKernels, what: string, shape: readonly number[]): Buf {
  checkTensorAllocation(`${what} of shape ${shapeText(shape)}`, numel(shape));
  return k.alloc(numel(shape));
}

export function zeros(k: TensorKernels, n: number): Buf {
  checkTensorAllocation(`a gradient of ${n} elements`, n);
  return filled(k, n, 0);
}

/** A tensor over device memory `buf`. */
export function wrap(buf: Buf, shape: readonly number[]): F32 {
  return new Tensor(buf as Float32Array, shape);
}

/**
 * Records `out` over `inputs` with a backward that receives and returns gradients on the kernels' device; `temps`
 * (memory only backward reads) are freed once it ran, or left to the garbage collector when no node is recorded.
 */
export function recordOn(k: TensorKernels, out: Tensor<DType>, name: string, inputs: readonly unknown[], backward: Backward, saves = true,
  temps: readonly (Buf | null)[] = []): void {
  const release = () => temps.forEach((t) => t && k.free(t));
  const recorded = recordNode(out as F32, name, inputs, backward as unknown as (g: Float32Array, needs: boolean[]) => (Float32Array | null)[],
    saves || temps.length > 0, k.device, release);
  if (!recorded) release();
}

/** A copy of `g` (gradients are never handed on by reference: a consumer may accumulate into what it receives). */
export function copyOf(k: TensorKernels, g: Buf, n: number): Buf {
  const out = k.alloc(n);
  stridedCopy(k, out, 0, [1], g, 0, [1], [n]);
  return out;
}

/** scale × `src` (n elements) in new memory. */
export function scaledCopy(k: TensorKernels, src: Buf, n: number, scale: number): Buf {
  const out = alloc(k, 'a scaled copy', [n]);
  const s = filled(k, 1, scale);
  try {
    binaryInto(k, BINARY.mul, out, src, [1], s, [0], [n], 1);
  } finally {
    k.free(s);
  }
  return out;
}

/**
 * scale × the sum of `x` (of `shape`) over the dims flagged in `reduced`: new memory of the kept dims' size. Reduced
 * dims that are not one block are moved last by a copy first, so the sum is always over a middle axis.
 */
export function sumDims(k: TensorKernels, x: Buf, shape: readonly number[], reduced: readonly boolean[], scale: number): Buf {
  const keptCount = numel(shape.filter((_, i) => !reduced[i]));
  const out = alloc(k, 'a reduction', [keptCount]);
  if (numel(shape) === 0) {
    k.fill(out, 0 * scale); // an empty sum is 0; its mean 0/0 = NaN
    return out;
  }
  // groups of adjacent dims with the same flag (size-1 dims are layout-neutral and dropped)
  const groups: { size: number; reduced: boolean }[] = [];
  shape.forEach((n, i) => {
    if (n === 1) return;
    const last = groups[groups.length - 1];
    if (last && last.reduced === reduced[i]) last.size *= n;
    else groups.push({ size: n, reduced: reduced[i] });
  });
  const reducedGroups = groups.filter((g) => g.reduced);
  if (reducedGroups.length <= 1) {
    const at = groups.findIndex((g) => g.reduced);
    if (at < 0) {
      // only size-1 dims were reduced
      k.free(out);
      return scale === 1 ? copyOf(k, x, keptCount) : scaledCopy(k, x, keptCount, scale);
    }
    const outer = numel(groups.slice(0, at).map((g) => g.size));
    const inner = numel(groups.slice(at + 1).map((g) => g.size));
    k.sumMiddle(out, x, outer, groups[at].size, inner, scale);
    return out;
  }
  const sizes = groups.map((g) => g.size);
  const own = contiguous(sizes);
  const order = [...groups.keys()].sort((i, j) => Number(groups[i].reduced) - Number(groups[j].reduced) || i - j);
  const moved = alloc(k, 'a reduction\'s reordered input', shape);
  try {
    const movedShape = order.map((i) => sizes[i]);
    stridedCopy(k, moved, 0, contiguous(movedShape), x, 0, order.map((i) => own[i]), movedShape);
    k.sumMiddle(out, moved, keptCount, numel(reducedGroups.map((g) => g.size)), 1, scale);
  } finally {
    k.free(moved);
  }
  return out;
}

/** `g` (shaped `full`) summed down to `shape`, which broadcasts to `full`; takes ownership of `g`. */
export function sumToShape(k: TensorKernels, g: Buf, full: readonly number[], shape: readonly number[]): Buf {
  const offset = full.length - shape.length;
  const reduced = full.map((n, i) => (i < offset ? true : shape[i - offset] === 1 && n !== 1));
  if (!reduced.some((r, i) => r && full[i] !== 1)) return g;
  try {
    return sumDims(k, g, full, reduced, 1);
  } finally {
    k.free(g);
  }
}
