// torch.nn.functional, the part the layers and training loops need: linear, embedding, dropout, softmax,
// logSoftmax and the losses crossEntropy, mseLoss and bceWithLogits, one file per family. On the CPU each is its
// own loop (float64 accumulation, float32 results) and records its own graph node, so it depends on no general
// tensor ops (softmax excepted: it is the autograd op); CUDA tensors, after the same checks, run on their device,
// backward included, in the same file.
export type { Reduction } from './common';
export { linear } from './linear';
export { embedding } from './embedding';
export { dropout } from './dropout';
export { softmax, logSoftmax } from './softmax';
export { CrossEntropyOptions, crossEntropy } from './cross-entropy';
export { MseLossOptions, mseLoss } from './mse-loss';
export { BceWithLogitsOptions, bceWithLogits } from './bce-with-logits';
