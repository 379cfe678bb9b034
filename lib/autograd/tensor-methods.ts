// What autograd adds to Tensor: the differentiable operations of ./ops as methods (`x.matmul(w).add(b).tanh()`),
// like PyTorch's tensor methods, `backward()`, and the recording of `to()`'s device moves. lib/tensor.ts stays
// free of autograd (it is the bottom of lib/); this module is imported once for its side effect (lib/index.ts
// does), and the declarations below merge the methods into the Tensor class's type.
import { DType, Tensor } from '../tensor';
import { backward as runBackward } from './engine';
import { recordNode } from './node';
import * as ops from './ops/index';

declare module '../tensor' {
  interface Tensor<D extends DType> {
    /**
     * Backpropagates from this tensor: `grad` is dL/d(this) (omit it for a single-element tensor), and every leaf
     * that requires grad accumulates dL/d(leaf) into `.grad`.
     */
    backward(grad?: Tensor<'float32'>): void;
    /** A view with another shape over the same memory (host or device); one dimension may be -1. */
    reshape(...shape: number[] | [number[]]): Tensor<D>;
    /** Same as `reshape` (every tensor is contiguous, so every reshape is a view). */
    view(...shape: number[] | [number[]]): Tensor<D>;
    /** `this + alpha * other` with broadcasting (see `add`). */
    add(other: Tensor<'float32'> | number, alpha?: number): Tensor<'float32'>;
    /** `this - alpha * other` with broadcasting (see `sub`). */
    sub(other: Tensor<'float32'> | number, alpha?: number): Tensor<'float32'>;
    /** Element-wise product with broadcasting (see `mul`). */
    mul(other: Tensor<'float32'> | number): Tensor<'float32'>;
    /** Element-wise true division with broadcasting (see `div`). */
    div(other: Tensor<'float32'> | number): Tensor<'float32'>;
    neg(): Tensor<'float32'>;
    /** Matrix product like torch.matmul (see `matmul`). */
    matmul(other: Tensor<'float32'>): Tensor<'float32'>;
    /** Sum over `dim` (an integer or an array; every element when omitted). */
    sum(dim?: number | readonly number[] | null, keepdim?: boolean): Tensor<'float32'>;
    /** Mean over `dim` (an integer or an array; every element when omitted). */
    mean(dim?: number | readonly number[] | null, keepdim?: boolean): Tensor<'float32'>;
    tanh(): Tensor<'float32'>;
    sigmoid(): Tensor<'float32'>;
    relu(): Tensor<'float32'>;
    exp(): Tensor<'float32'>;
    log(): Tensor<'float32'>;
    softmax(dim: number): Tensor<'float32'>;
    logSoftmax(dim: number): Tensor<'float32'>;
    /** Swaps two dimensions (a copy). */
    transpose(dim0: number, dim1: number): Tensor<D>;
    /** Reorders the dimensions: `x.permute(2, 0, 1)` or `x.permute([2, 0, 1])` (a copy). */
    permute(...dims: number[] | [readonly number[]]): Tensor<D>;
    /** The slice at `index` along `dim`, without that dimension (a copy). */
    select(dim: number, index: number): Tensor<D>;
    /** `length` entries of `dim` from `start` (a copy). */
    narrow(dim: number, start: number, length: number): Tensor<D>;
    /** The entries at `index` (a 1-D int64 tensor) along `dim`, like index_select. */
    indexSelect(dim: number, index: Tensor<'int64'>): Tensor<D>;
  }
}

type Self = Tensor<DType>;
type F32 = Tensor<'float32'>;
const proto = Tensor.prototype as Self;

proto.backward = function (this: Self, grad?: F32) {
  runBackward([this as F32], [grad]);
};
proto.reshape = function (this: Self, ...shape: number[] | [number[]]) {
  const dims = (Array.isArray(shape[0]) ? shape[0] : shape) as number[];
  return ops.reshape(this, dims);
};
proto.view = function (this: Self, ...shape: number[] | [number[]]) {
  return this.reshape(...shape);
};

// Tensor.to copies; a device move of a float32 tensor is differentiable like PyTorch's: the gradient goes back
// to the source's device (the engine moves it). A dtype conversion is not recorded.
const copyTo = proto.to as (this: Self, ...args: unknown[]) => Self;
proto.to = function (this: Self, ...args: unknown[]) {
  const moved = copyTo.apply(this, args);
  if (moved !== this && this.dtype === 'float32' && moved.dtype === 'float32') recordNode(moved as F32, 'ToCopyBackward0', [this], (g) => [g], false);
  return moved;
} as Self['to'];

proto.add = function (this: Self, other: F32 | number, alpha?: number) {
  return ops.add(this as F32, other, alpha);
};
proto.sub = function (this: Self, other: F32 | number, alpha?: number) {
  return ops.sub(this as F32, other, alpha);
};
proto.mul = function (this: Self, other: F32 | number) {
  return ops.mul(this as F32, other);
};
proto.div = function (this: Self, other: F32 | number) {
  return ops.div(this as F32, other);
};
proto.neg = function (this: Self) {
  return ops.neg(this as F32);
};
proto.matmul = function (this: Self, other: F32) {
  return ops.matmul(this as F32, other);
};
proto.sum = function (this: Self, dim?: number | readonly number[] | null, keepdim?: boolean) {
  return ops.sum(this as F32, dim, keepdim);
};
proto.mean = function (this: Self, dim?: number | readonly number[] | null, keepdim?: boolean) {
  return ops.mean(this as F32, dim, keepdim);
};
proto.tanh = function (this: Self) {
  return ops.tanh(this as F32);
};
proto.sigmoid = function (this: Self) {
  return ops.sigmoid(this as F32);
};
proto.relu = function (this: Self) {
  return ops.relu(this as F32);
};
proto.exp = function (this: Self) {
  return ops.exp(this as F32);
};
proto.log = function (this: Self) {
  return ops.log(this as F32);
};
proto.softmax = function (this: Self, dim: number) {
  return ops.softmax(this as F32, dim);
};
proto.logSoftmax = function (this: Self, dim: number) {
  return ops.logSoftmax(this as F32, dim);
};
proto.transpose = function (this: Self, dim0: number, dim1: number) {
  return ops.transpose(this, dim0, dim1);
};
proto.permute = function (this: Self, ...dims: number[] | [readonly number[]]) {
  const list = (Array.isArray(dims[0]) ? dims[0] : dims) as readonly number[];
  return ops.permute(this, list);
};
proto.select = function (this: Self, dim: number, index: number) {
  return ops.select(this, dim, index);
};
proto.narrow = function (this: Self, dim: number, start: number, length: number) {
  return ops.narrow(this, dim, start, length);
};
proto.indexSelect = function (this: Self, dim: number, index: Tensor<'int64'>) {
  return ops.indexSelect(this, dim, index);
};
