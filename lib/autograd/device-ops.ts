// The differentiable ops of ./ops on a device: the same results and gradients (float32, within rounding), composed
// from the primitives of ./device-kernels, each output in new memory on the inputs' device and each recorded node
// asking for its gradients there, so forward and backward stay on the GPU. ./ops checks every argument first and
// passes shapes it has already validated; temporaries are freed as soon as they are used.
import { shapeText } from '../checks';
import { checkTensorAllocation } from '../limits';
import { DType, Tensor } from '../tensor';
import { BINARY, Buf, MAX_DIMS, TensorKernels, UNARY, UnaryCode, filled } from './device-kernels';
import { recordNode } from './node';

type F32 = Tensor<'float32'>;
type Backward = (g: Buf, needs: boolean[]) => (Buf | null)[];

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

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

export function binaryInto(k: TensorKernels, op: number, out: Buf, a: Buf, aStr: readonly number[], b: Buf, bStr: readonly number[],
  shape: readonly number[], alpha: number): void {
  if (numel(shape) === 0) return;
  const [size, sa, sb] = collapse(shape, aStr, bStr);
  k.binary(op as 0, out, a, sa, b, sb, size, alpha);
}

/** The op a node name stands for, for messages: AddBackward0 -> add, IndexSelectBackward0 -> indexSelect. */
function opOf(name: string): string {
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

// ---------------------------------------------------------------------------------------------------------
// Element-wise

export interface DeviceOperand {
  tensor: F32 | null;
  /** A number operand is a 1-element buffer. */
  buf: Buf;
  shape: readonly number[];
}

export function operandOf(k: TensorKernels, value: F32 | number): DeviceOperand {
  if (typeof value === 'number') return { tensor: null, buf: filled(k, 1, value), shape: [] };
  return { tensor: value, buf: value.storage() as Buf, shape: value.shape };
}

/** add/sub (alpha signed by the caller), mul, div with broadcasting; names and gradients as the host ops. */
export function binaryOp(k: TensorKernels, kind: 'add' | 'mul' | 'div', name: string, A: DeviceOperand, B: DeviceOperand, shape: number[],
  alpha: number): F32 {
  const sa = broadcastStrides(A.shape, shape);
  const sb = broadcastStrides(B.shape, shape);
  const n = numel(shape);
  const out = alloc(k, `${opOf(name)} result`, shape);
  binaryInto(k, BINARY[kind], out, A.buf, sa, B.buf, sb, shape, kind === 'add' ? alpha : 1);
  const result = wrap(out, shape);
  const full = contiguous(shape);
  const scalars = [A.tensor ? null : A.buf, B.tensor ? null : B.buf];
  recordOn(k, result, name, [A.tensor, B.tensor], (g, [needA, needB]) => {
    const fresh = () => alloc(k, `${opOf(name)} gradient`, shape);
    let ga: Buf | null = null;
    let gb: Buf | null = null;
    if (kind === 'add') {
      if (needA) ga = copyOf(k, g, n);
      if (needB) gb = alpha === 1 ? copyOf(k, g, n) : scaledCopy(k, g, n, alpha);
    } else if (kind === 'mul') {
      if (needA) binaryInto(k, BINARY.mul, (ga = fresh()), g, full, B.buf, sb, shape, 1);
      if (needB) binaryInto(k, BINARY.mul, (gb = fresh()), g, full, A.buf, sa, shape, 1);
    } else {
      if (needA) binaryInto(k, BINARY.div, (ga = fresh()), g, full, B.buf, sb, shape, 1);
      if (needB) {
        // -g z / y
        const gz = fresh();
        binaryInto(k, BINARY.mul, gz, g, full, out, full, shape, 1);
        binaryInto(k, BINARY.div, (gb = fresh()), gz, full, B.buf, sb, shape, -1);
        k.free(gz);
      }
    }
    return [ga && sumToShape(k, ga, shape, A.shape), gb && sumToShape(k, gb, shape, B.shape)];
  }, kind !== 'add', kind === 'add' ? [] : scalars);
  // add's backward reads neither operand
  if (kind === 'add') scalars.forEach((s) => s && k.free(s));
  return result;
}

export type UnaryName = keyof typeof UNARY;

export function unaryOp(k: TensorKernels, op: UnaryName, name: string, x: F32): F32 {
  const code: UnaryCode = UNARY[op];
  const xs = x.storage() as Buf;
  const out = alloc(k, `${op} result`, x.shape);
  if (x.numel > 0) k.unary(code, out, xs);
  const result = wrap(out, x.shape);
  recordOn(k, result, name, [x], (g) => {
    const gx = alloc(k, `${op} gradient`, x.shape);
    if (x.numel > 0) k.unaryBackward(code, gx, g, op === 'log' ? xs : null, op === 'log' || op === 'neg' ? null : out);
    return [gx];
  }, op !== 'neg');
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Reductions and softmax

/** Sum (scale 1) or mean (scale 1/count) over the flagged dims; `outShape` is the result's (keepdim applied). */
export function reduceOp(k: TensorKernels, name: string, x: F32, reduced: readonly boolean[], outShape: number[], scale: number): F32 {
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

export function softmaxOp(k: TensorKernels, name: string, x: F32, outer: number, size: number, inner: number, log: boolean): F32 {
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

// ---------------------------------------------------------------------------------------------------------
// Matrix products

export interface MatmulPlan {
  aShape: readonly number[]; // a with a 1-D operand made [1, k]
  bShape: readonly number[]; // b with a 1-D operand made [k, 1]
  batch: number[];
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

/** A [..., m, k] matrix batch broadcast to `batch` as contiguous memory, or itself (stride m k, or 0 when shared). */
function batched(k: TensorKernels, buf: Buf, shape: readonly number[], batch: readonly number[], rows: number, cols: number): { buf: Buf; stride: number; owned: boolean } {
  const own = shape.slice(0, -2);
  if (numel(own) === 1) return { buf, stride: 0, owned: false };
  if (own.length === batch.length && own.every((d, i) => d === batch[i])) return { buf, stride: rows * cols, owned: false };
  const full = [...batch, rows, cols];
  const out = alloc(k, 'a broadcast matmul operand', full);
  stridedCopy(k, out, 0, contiguous(full), buf, 0, broadcastStrides(shape, full), full);
  return { buf: out, stride: rows * cols, owned: true };
}

export function matmulOp(k: TensorKernels, name: string, a: F32, b: F32, p: MatmulPlan): F32 {
  const { m, k: K, n, batch } = p;
  const A = a.storage() as Buf;
  const B = b.storage() as Buf;
  const out = alloc(k, 'matmul result', p.outShape);
  const bBatched = p.bShape.length > 2;
  // b without batch dims: a's batches fold into the rows of one product
  const rowsA = bBatched ? m : numel(p.aShape.slice(0, -1));
  const P = bBatched ? numel(batch) : 1;
  if (K === 0) k.fill(out, 0);
  else if (!bBatched) k.gemmBatched(false, false, rowsA, n, K, 1, A, K, 0, B, n, 0, 0, out, n, 0, 1);
  else {
    const ea = batched(k, A, p.aShape, batch, m, K);
    const eb = batched(k, B, p.bShape, batch, K, n);
    try {
      k.gemmBatched(false, false, m, n, K, 1, ea.buf, K, ea.stride, eb.buf, n, eb.stride, 0, out, n, m * n, P);
    } finally {
      if (ea.owned) k.free(ea.buf);
      if (eb.owned) k.free(eb.buf);
    }
  }
  const result = wrap(out, p.outShape);
  recordOn(k, result, name, [a, b], (g, [needA, needB]) => {
    let gA: Buf | null = null;
    let gB: Buf | null = null;
    if (!bBatched) {
      if (needA) {
        gA = alloc(k, 'matmul gradient', [rowsA, K]);
        if (n === 0) k.fill(gA, 0);
        else k.gemmBatched(false, true, rowsA, K, n, 1, g, n, 0, B, n, 0, 0, gA, K, 0, 1);
      }
      if (needB) {
        gB = alloc(k, 'matmul gradient', [K, n]);
        if (rowsA === 0) k.fill(gB, 0);
        else k.gemmBatched(true, false, K, n, rowsA, 1, A, K, 0, g, n, 0, 0, gB, n, 0, 1);
      }
      return [gA, gB];
    }
    // per-batch products over the broadcast batch, then summed down to each operand's batch shape
    const ea = needB ? batched(k, A, p.aShape, batch, m, K) : null;
    const eb = needA ? batched(k, B, p.bShape, batch, K, n) : null;
    try {
      if (eb) {
        const full = [...batch, m, K];
        gA = alloc(k, 'matmul gradient', full);
        if (n === 0) k.fill(gA, 0);
        else k.gemmBatched(false, true, m, K, n, 1, g, n, m * n, eb.buf, n, eb.stride, 0, gA, K, m * K, P);
        gA = sumToShape(k, gA, full, p.aShape);
      }
      if (ea) {
        const full = [...batch, K, n];
        gB = alloc(k, 'matmul gradient', full);
        if (m === 0) k.fill(gB, 0);
        else k.gemmBatched(true, false, K, n, m, 1, ea.buf, K, ea.stride, g, n, m * n, 0, gB, n, K * n, P);
        gB = sumToShape(k, gB, full, p.bShape);
      }
    } finally {
      if (ea?.owned) k.free(ea.buf);
      if (eb?.owned) k.free(eb.buf);
    }
    return [gA, gB];
  });
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Shape operations (copies; the gradient is copied back through the same strides)

export function permuteOp(k: TensorKernels, name: string, x: F32, perm: readonly number[]): F32 {
  const own = contiguous(x.shape);
  const outShape = perm.map((p) => x.shape[p]);
  const read = perm.map((p) => own[p]);
  const out = alloc(k, `${opOf(name)} result`, outShape);
  stridedCopy(k, out, 0, contiguous(outShape), x.storage() as Buf, 0, read, outShape);
  const result = wrap(out, outShape);
  recordOn(k, result, name, [x], (g) => {
    const gx = alloc(k, `${opOf(name)} gradient`, x.shape);
    stridedCopy(k, gx, 0, read, g, 0, contiguous(outShape), outShape);
    return [gx];
  }, false);
  return result;
}

/** `length` entries from `start` along the middle axis of (outer, size, inner). */
export function sliceOp(k: TensorKernels, name: string, x: F32, outer: number, size: number, inner: number, start: number, length: number,
  outShape: number[]): F32 {
  const view = [outer, length, inner];
  const strides = [size * inner, inner, 1];
  const out = alloc(k, `${opOf(name)} result`, outShape);
  stridedCopy(k, out, 0, contiguous(view), x.storage() as Buf, start * inner, strides, view);
  const result = wrap(out, outShape);
  recordOn(k, result, name, [x], (g) => {
    const gx = zeros(k, x.numel);
    stridedCopy(k, gx, start * inner, strides, g, 0, contiguous(view), view);
    return [gx];
  }, false);
  return result;
}

/** Concatenation along the middle axis of (outer, sizes[j], inner) pieces (cat and stack). */
export function concatOp(k: TensorKernels, name: string, list: F32[], outer: number, sizes: number[], inner: number, outShape: number[]): F32 {
  const total = sizes.reduce((x, y) => x + y, 0);
  const out = alloc(k, `${opOf(name)} result`, outShape);
  const into = [total * inner, inner, 1];
  const offsets: number[] = [];
  let offset = 0;
  list.forEach((t, j) => {
    offsets.push(offset);
    const view = [outer, sizes[j], inner];
    stridedCopy(k, out, offset * inner, into, t.storage() as Buf, 0, contiguous(view), view);
    offset += sizes[j];
  });
  const result = wrap(out, outShape);
  recordOn(k, result, name, list, (g, needs) =>
    list.map((t, j) => {
      if (!needs[j]) return null;
      const view = [outer, sizes[j], inner];
      const gx = alloc(k, `${opOf(name)} gradient`, t.shape);
      stridedCopy(k, gx, 0, contiguous(view), g, offsets[j] * inner, into, view);
      return gx;
    }), false);
  return result;
}

/** Entries at `index` (validated, in [0, size)) along the middle axis of (outer, size, inner). */
export function indexSelectOp(k: TensorKernels, name: string, x: F32, outer: number, size: number, inner: number, index: BigInt64Array,
  outShape: number[]): F32 {
  const out = alloc(k, `${opOf(name)} result`, outShape);
  if (numel(outShape) > 0) k.indexSelect(out, x.storage() as Buf, outer, size, inner, index);
  const result = wrap(out, outShape);
  recordOn(k, result, name, [x], (g) => {
    const gx = zeros(k, x.numel);
    if (numel(outShape) > 0) k.indexAdd(gx, g, outer, size, inner, index, -1);
    return [gx];
  });
  return result;
}

/** Records a device reshape (a view over the same memory): the gradient is copied back on the device. */
export function recordView(k: TensorKernels, result: Tensor<DType>, input: Tensor<DType>): void {
  recordOn(k, result, 'ViewBackward0', [input], (g) => [copyOf(k, g, input.numel)], false);
}
