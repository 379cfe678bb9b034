// The fused element-wise step of each cell on the CPU: gates from the two projections and the biases,
// activations, and the new state, in one pass over the active rows.
#pragma once
#include "../core/step_args.h"

namespace rnn::cpu {

void lstmStep(const StepArgs& a);
void gruStep(const StepArgs& a);
void rnnStep(const StepArgs& a);  // tanh or relu, from a.kind

}  // namespace rnn::cpu
