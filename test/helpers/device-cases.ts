// The op cases the device path is compared with the CPU ops on (test/device-ops.test.ts through the host kernels,
// test/cuda-ops.test.ts on a GPU): every differentiable op and functional, forward and backward, with broadcasting,
// negative dims, keepdim, batched matmul with broadcast batch dims, cat/stack on several dims and the loss options.
import { Tensor, tensor } from '../../lib/index';
import {
  add, cat, div, exp, indexSelect, log, logSoftmax, matmul, mean, mul, narrow, neg, permute, relu, reshape, select,
  sigmoid, softmax, stack, sub, sum, tanh, transpose,
} from '../../lib/autograd/ops/index';
import * as F from '../../lib/nn/functional/index';
import type { OpCase } from './device-compare';

type F32 = Tensor<'float32'>;
const positive = (v: number) => Math.abs(v) + 0.5;
const probability = (v: number) => 1 / (1 + Math.exp(-v));
const ids = (values: number[], shape = [values.length]) => tensor(BigInt64Array.from(values, BigInt), shape);
const one = (shape: number[], grad = true) => ({ shape, grad });
const f = (xs: Tensor[]) => xs as F32[];

export const opCases: OpCase[] = [
  { name: 'add same shape', inputs: [one([2, 3]), one([2, 3])], run: (xs) => add(f(xs)[0], f(xs)[1]) },
  { name: 'add broadcast [2,3,4] + [3,1]', inputs: [one([2, 3, 4]), one([3, 1])], run: (xs) => add(f(xs)[0], f(xs)[1]) },
  { name: 'add both broadcast [2,1,4] + [3,1] alpha 2.5', inputs: [one([2, 1, 4]), one([3, 1])], run: (xs) => add(f(xs)[0], f(xs)[1], 2.5) },
  { name: 'add number', inputs: [one([4])], run: (xs) => add(f(xs)[0], 3) },
  { name: 'number + tensor', inputs: [one([4])], run: (xs) => add(1.5, f(xs)[0], -2) },
  { name: 'sub broadcast alpha', inputs: [one([3, 1, 2]), one([4, 2])], run: (xs) => sub(f(xs)[0], f(xs)[1], 0.5) },
  { name: 'sub one side needs no grad', inputs: [one([2, 3]), one([3], false)], run: (xs) => sub(f(xs)[0], f(xs)[1]) },
  { name: 'mul broadcast', inputs: [one([2, 3, 4]), one([1, 4])], run: (xs) => mul(f(xs)[0], f(xs)[1]) },
  { name: 'mul number', inputs: [one([5])], run: (xs) => mul(f(xs)[0], -1.25) },
  { name: 'div broadcast', inputs: [one([2, 3]), { shape: [2, 1], map: positive }], run: (xs) => div(f(xs)[0], f(xs)[1]) },
  { name: 'number / tensor', inputs: [{ shape: [3], map: positive }], run: (xs) => div(2, f(xs)[0]) },
  { name: 'neg', inputs: [one([3, 2])], run: (xs) => neg(f(xs)[0]) },
  { name: 'tanh', inputs: [one([3, 2])], run: (xs) => tanh(f(xs)[0]) },
  { name: 'sigmoid', inputs: [one([3, 2])], run: (xs) => sigmoid(f(xs)[0]) },
  { name: 'relu', inputs: [one([3, 4])], run: (xs) => relu(f(xs)[0]) },
  { name: 'exp', inputs: [one([3, 2])], run: (xs) => exp(f(xs)[0]) },
  { name: 'log', inputs: [{ shape: [3, 2], map: positive }], run: (xs) => log(f(xs)[0]) },
  { name: 'sum all', inputs: [one([2, 3, 4])], run: (xs) => sum(f(xs)[0]) },
  { name: 'sum dim 1', inputs: [one([2, 3, 4])], run: (xs) => sum(f(xs)[0], 1) },
  { name: 'sum dims [0, 2] keepdim', inputs: [one([2, 3, 4])], run: (xs) => sum(f(xs)[0], [0, 2], true) },
  { name: 'sum dims [-1, 1] of 4-D', inputs: [one([2, 3, 2, 5])], run: (xs) => sum(f(xs)[0], [-1, 1]) },
  { name: 'sum dim -1 keepdim', inputs: [one([3, 40])], run: (xs) => sum(f(xs)[0], -1, true) },
  { name: 'sum over an empty dim', inputs: [one([2, 0, 3])], run: (xs) => sum(f(xs)[0], 1) },
  { name: 'mean all', inputs: [one([2, 3, 4])], run: (xs) => mean(f(xs)[0]) },
  { name: 'mean dims [0, -1]', inputs: [one([2, 3, 4])], run: (xs) => mean(f(xs)[0], [0, -1]) },
  { name: 'mean of a 0-d tensor', inputs: [one([])], run: (xs) => mean(f(xs)[0], 0, true) },
  { name: 'softmax dim 1', inputs: [one([2, 3, 4])], run: (xs) => softmax(f(xs)[0], 1) },
  { name: 'softmax dim 0', inputs: [one([3, 5])], run: (xs) => softmax(f(xs)[0], 0) },
  { name: 'softmax long rows', inputs: [one([3, 70])], run: (xs) => softmax(f(xs)[0], -1) },
  { name: 'logSoftmax dim -1', inputs: [one([2, 3, 4])], run: (xs) => logSoftmax(f(xs)[0], -1) },
  { name: 'logSoftmax long rows', inputs: [one([2, 50, 3])], run: (xs) => logSoftmax(f(xs)[0], 1) },
  { name: 'matmul dot', inputs: [one([5]), one([5])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul 2-D x 1-D', inputs: [one([3, 5]), one([5])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul 1-D x 2-D', inputs: [one([3]), one([3, 4])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul 2-D x 2-D', inputs: [one([3, 5]), one([5, 2])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul 3-D x 2-D', inputs: [one([2, 3, 5]), one([5, 4])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul 3-D x 3-D', inputs: [one([2, 3, 5]), one([2, 5, 4])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul broadcast batch [2,1,3,4] x [3,4,5]', inputs: [one([2, 1, 3, 4]), one([3, 4, 5])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul 2-D x batched 3-D', inputs: [one([4, 3]), one([2, 3, 5])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul 1-D x batched 3-D', inputs: [one([3]), one([2, 3, 5])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul batched x 1-D', inputs: [one([2, 4, 3]), one([3])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'matmul with an empty inner dim', inputs: [one([2, 0]), one([0, 3])], run: (xs) => matmul(f(xs)[0], f(xs)[1]) },
  { name: 'transpose 0, 2', inputs: [one([2, 3, 4])], run: (xs) => transpose(f(xs)[0], 0, 2) },
  { name: 'transpose -1, -2', inputs: [one([2, 3, 4])], run: (xs) => transpose(f(xs)[0], -1, -2) },
  { name: 'permute [2, 0, 1]', inputs: [one([2, 3, 4])], run: (xs) => permute(f(xs)[0], [2, 0, 1]) },
  { name: 'permute with negative dims', inputs: [one([2, 3, 4, 2])], run: (xs) => permute(f(xs)[0], [-1, 1, 0, -2]) },
  { name: 'select dim 1 index -1', inputs: [one([2, 3, 4])], run: (xs) => select(f(xs)[0], 1, -1) },
  { name: 'select dim 0', inputs: [one([3, 4])], run: (xs) => select(f(xs)[0], 0, 1) },
  { name: 'narrow dim 2', inputs: [one([2, 3, 4])], run: (xs) => narrow(f(xs)[0], 2, 1, 2) },
  { name: 'narrow negative start', inputs: [one([5, 2])], run: (xs) => narrow(f(xs)[0], 0, -3, 2) },
  { name: 'cat dim 0', inputs: [one([2, 3]), one([1, 3])], run: (xs) => cat(f(xs), 0) },
  { name: 'cat dim 1 of three', inputs: [one([2, 1, 3]), one([2, 4, 3]), one([2, 2, 3], false)], run: (xs) => cat(f(xs), 1) },
  { name: 'cat dim -1', inputs: [one([2, 3]), one([2, 2])], run: (xs) => cat(f(xs), -1) },
  { name: 'stack dim 0', inputs: [one([2, 3]), one([2, 3])], run: (xs) => stack(f(xs), 0) },
  { name: 'stack dim -1', inputs: [one([2, 3]), one([2, 3]), one([2, 3])], run: (xs) => stack(f(xs), -1) },
  { name: 'indexSelect dim 1 with repeats', inputs: [one([2, 4, 3])], run: (xs) => indexSelect(f(xs)[0], 1, ids([3, 0, 3, 1])) },
  { name: 'indexSelect dim 0', inputs: [one([5, 2])], run: (xs) => indexSelect(f(xs)[0], 0, ids([4, 4, 0])) },
  { name: 'reshape then mul', inputs: [one([2, 6]), one([3, 4])], run: (xs) => mul(reshape(f(xs)[0], [3, 4]), f(xs)[1]) },
  {
    name: 'a small network: tanh(x W + b) summed',
    inputs: [one([4, 3]), one([3, 5]), one([5])],
    run: (xs) => sum(tanh(add(matmul(f(xs)[0], f(xs)[1]), f(xs)[2])), 1),
  },
  { name: 'tensor methods chain', inputs: [one([2, 3, 4])], run: (xs) => f(xs)[0].transpose(0, 1).reshape([3, 8]).relu().mean(0) },
];

const targets = (values: number[], shape?: number[]) => ids(values, shape);

export const functionalCases: OpCase[] = [
  { name: 'F.linear with bias, 3-D input', inputs: [one([2, 3, 4]), one([5, 4]), one([5])], run: (xs) => F.linear(f(xs)[0], f(xs)[1], f(xs)[2]) },
  { name: 'F.linear without bias', inputs: [one([3, 4]), one([2, 4])], run: (xs) => F.linear(f(xs)[0], f(xs)[1]) },
  { name: 'F.linear 1-D input', inputs: [one([4]), one([3, 4]), one([3])], run: (xs) => F.linear(f(xs)[0], f(xs)[1], f(xs)[2]) },
  { name: 'F.embedding', inputs: [one([6, 3])], run: (xs) => F.embedding(ids([1, 5, 1, 0, 2, 1], [2, 3]), f(xs)[0]) },
  { name: 'F.embedding with paddingIdx -1', inputs: [one([6, 3])], run: (xs) => F.embedding(ids([5, 2, 5, 1]), f(xs)[0], -1) },
  { name: 'F.dropout', inputs: [one([4, 5])], run: (xs) => F.dropout(f(xs)[0], 0.3, true) },
  { name: 'F.dropout p = 1', inputs: [one([4])], run: (xs) => F.dropout(f(xs)[0], 1, true) },
  { name: 'F.softmax', inputs: [one([3, 4])], run: (xs) => F.softmax(f(xs)[0], -1) },
  { name: 'F.logSoftmax', inputs: [one([3, 4])], run: (xs) => F.logSoftmax(f(xs)[0], 0) },
  { name: 'F.crossEntropy mean', inputs: [one([4, 5])], run: (xs) => F.crossEntropy(f(xs)[0], targets([1, 0, 4, 2])) },
  { name: 'F.crossEntropy sum', inputs: [one([4, 5])], run: (xs) => F.crossEntropy(f(xs)[0], targets([1, 0, 4, 2]), { reduction: 'sum' }) },
  { name: 'F.crossEntropy none', inputs: [one([4, 5])], run: (xs) => F.crossEntropy(f(xs)[0], targets([1, 0, 4, 2]), { reduction: 'none' }) },
  {
    name: 'F.crossEntropy ignoreIndex and weight, mean',
    inputs: [one([5, 3]), { shape: [3], grad: false, map: positive }],
    run: (xs) => F.crossEntropy(f(xs)[0], targets([2, -100, 0, 2, 1]), { weight: f(xs)[1] }),
  },
  {
    name: 'F.crossEntropy custom ignoreIndex, none',
    inputs: [one([4, 3])],
    run: (xs) => F.crossEntropy(f(xs)[0], targets([2, 1, 1, 0]), { ignoreIndex: 1, reduction: 'none' }),
  },
  {
    name: 'F.crossEntropy spatial [N, C, d] with weight, sum',
    inputs: [one([2, 4, 3]), { shape: [4], grad: false, map: positive }],
    run: (xs) => F.crossEntropy(f(xs)[0], targets([0, 3, 1, 2, 2, 0], [2, 3]), { weight: f(xs)[1], reduction: 'sum' }),
  },
  { name: 'F.crossEntropy 1-D input, 0-d target', inputs: [one([6])], run: (xs) => F.crossEntropy(f(xs)[0], tensor(BigInt64Array.of(4n), [])) },
  { name: 'F.crossEntropy long rows', inputs: [one([3, 70])], run: (xs) => F.crossEntropy(f(xs)[0], targets([69, 0, 33])) },
  { name: 'F.mseLoss mean', inputs: [one([3, 4]), one([3, 4])], run: (xs) => F.mseLoss(f(xs)[0], f(xs)[1]) },
  { name: 'F.mseLoss sum, constant target', inputs: [one([5]), one([5], false)], run: (xs) => F.mseLoss(f(xs)[0], f(xs)[1], { reduction: 'sum' }) },
  { name: 'F.mseLoss none', inputs: [one([2, 3]), one([2, 3])], run: (xs) => F.mseLoss(f(xs)[0], f(xs)[1], { reduction: 'none' }) },
  { name: 'F.bceWithLogits mean', inputs: [one([3, 4]), { shape: [3, 4], map: probability }], run: (xs) => F.bceWithLogits(f(xs)[0], f(xs)[1]) },
  {
    name: 'F.bceWithLogits broadcast posWeight and weight, sum, all get gradients',
    inputs: [{ shape: [3, 4], map: (v) => 4 * v }, { shape: [3, 4], map: probability }, { shape: [4], map: positive }, { shape: [3, 1], map: positive }],
    run: (xs) => F.bceWithLogits(f(xs)[0], f(xs)[1], { posWeight: f(xs)[2], weight: f(xs)[3], reduction: 'sum' }),
  },
  {
    name: 'F.bceWithLogits weight of the input shape, none, constant target',
    inputs: [one([2, 3]), { shape: [2, 3], grad: false, map: probability }, { shape: [2, 3], map: positive }],
    run: (xs) => F.bceWithLogits(f(xs)[0], f(xs)[1], { weight: f(xs)[2], reduction: 'none' }),
  },
];
