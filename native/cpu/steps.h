// The fused element-wise step of the Elman RNN on the CPU: both projections and the bias, then the activation,
// in one pass over the active rows. (LSTM and GRU fuse their cell into the GEMM kernel: packed_step.h.)
#pragma once
#include "../core/step_args.h"

namespace rnn::cpu {

void rnnStep(const StepArgs& a);  // tanh or relu, from a.kind

}  // namespace rnn::cpu
