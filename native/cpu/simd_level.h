// Which instruction set the hand-dispatched CPU kernels use: 2 = AVX-512 (F, VL, DQ), 1 = AVX2 + FMA, 0 = baseline.
// Detected once from the CPU's features; NODE_RNN_SIMD=avx2|base (read once) lowers it, so that the fallbacks
// can be tested on a machine that has AVX-512. NODE_RNN_SIMD=avx512 keeps level 2 but turns off the AVX-512
// dot products (BF16's VDPBF16PS: bf16Dot; VNNI's VPDPBUSD: int8Dot), so the bfloat16 and int8 kernels' paths for
// AVX-512 CPUs without them can be tested too.
#pragma once

namespace rnn::cpu {

int simdLevel();
// VDPBF16PS (AVX512_BF16) for the bfloat16 kernels: level 2 and the CPU has it, and NODE_RNN_SIMD is not avx512.
bool bf16Dot();
// VPDPBUSD (AVX512_VNNI) for the int8 kernels: level 2, the CPU has it (and AVX512BW), NODE_RNN_SIMD is not avx512.
bool int8Dot();
// The int8 kernels' AVX-512 path without VNNI needs AVX512BW (VPMADDWD on zmm): level 2 and the CPU has it.
bool avx512Bw();

}  // namespace rnn::cpu
