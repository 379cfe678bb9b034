// The int8 forward on the CPU (modules made by quantizeDynamic; inference only): weight matrices int8, packed for
// this CPU once when the module was quantized (int8_pack.h), one scale per output row; biases, the input, the
// states and every result float32. Activations (the layer input, h each step, LSTM's unprojected h before W_hr)
// are quantized per row on the fly; int32 accumulation, float32 cell state and step math.
#pragma once
#include <cstdint>
#include <string>

#include "../core/rnn_spec.h"

namespace rnn::cpu {

// io.weights: per layer-direction the packed W_ih, W_hh (Uint8Array bytes), b_ih, b_hh (float32, with bias) and
// the packed W_hr (with projections).
void rnnForwardCpuInt8(const RnnSpec& spec, const RnnIo& io);

// "" when every packed matrix of io.weights has the spec's shape and was packed for this CPU; else what is wrong.
std::string int8WeightsError(const RnnSpec& spec, const RnnIo& io);

// out [rows, N] = x [rows, K] W^T (+ bias [N]) with W packed (1 gate of N rows); on the thread team when large.
void int8Linear(const uint8_t* packed, const float* bias, const float* x, int64_t rows, int K, int N, float* out);

}  // namespace rnn::cpu
