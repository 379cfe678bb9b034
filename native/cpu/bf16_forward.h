// The bfloat16 forward on the CPU (inference only): bfloat16 weights; the input, h0 and c0 bfloat16 or float32
// (each span's own type); the results all bfloat16, or all float32 (output and h_n the rounded values widened, c_n
// the float32 cell state). Float32 accumulation, float32 cell state and step math,
// h rounded to bfloat16 once per step (it is the next step's dot-product operand and the output; GRU keeps a
// float32 copy for its z h term). The schedule is core/rnn_driver.h's, over bfloat16 activations.
#pragma once
#include "../core/rnn_spec.h"

namespace rnn::cpu {

void rnnForwardCpuBf16(const RnnSpec& spec, const RnnIo& io);

}  // namespace rnn::cpu
