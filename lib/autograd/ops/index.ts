// The differentiable tensor operations, with PyTorch semantics (float32; the shape ops take int64 too), by family.
// Each returns a new tensor (reshape/view share memory) and, while grad mode is on and an input needs a gradient,
// records a GradNode whose backward maps gradients of the output to gradients of the inputs. CPU tensors are
// computed by the op's host loop; CUDA tensors, after the same checks, by its device branch (forward and backward
// on the device), in the same file.
export type { Operand } from './elementwise';
export { add, sub, mul, div, neg, tanh, sigmoid, relu, exp, log } from './elementwise';
export { sum, mean, softmax, logSoftmax } from './reduce';
export { matmul } from './matmul';
export { reshape, view, transpose, permute } from './shape';
export { select, narrow, indexSelect } from './indexing';
export { cat, stack } from './join';
