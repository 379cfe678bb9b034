// Which instruction set the hand-dispatched CPU kernels use: 2 = AVX-512 (F, VL, DQ), 1 = AVX2 + FMA, 0 = baseline.
// Detected once from the CPU's features; NODE_RNN_SIMD=avx2|base (read once) lowers it, so that the fallbacks
// can be tested on a machine that has AVX-512.
#pragma once

namespace rnn::cpu {

int simdLevel();

}  // namespace rnn::cpu
