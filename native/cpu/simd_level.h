// Which instruction set the hand-dispatched CPU kernels use: 2 = AVX-512 (F, VL, DQ), 1 = AVX2 + FMA, 0 = baseline.
// Detected once from the CPU's features; NODE_RNN_SIMD=avx2|base (read once) lowers it, so that the fallbacks
// can be tested on a machine that has AVX-512. NODE_RNN_SIMD=avx512 keeps level 2 but turns off the AVX-512
// BF16 dot product (bf16Dot), so the bfloat16 kernels' path for AVX-512 CPUs without it can be tested too.
#pragma once

namespace rnn::cpu {

int simdLevel();
// VDPBF16PS (AVX512_BF16) for the bfloat16 kernels: level 2 and the CPU has it, and NODE_RNN_SIMD is not avx512.
bool bf16Dot();

}  // namespace rnn::cpu
