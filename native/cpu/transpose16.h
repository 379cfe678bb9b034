// A 16 x 16 block of 32-bit words transposed in AVX-512 registers, and an 8 x 8 block in AVX2's: the weight packers'
// inner blocks (float32 panels take 16 units x 16 k, or 8 units x 8 k at AVX2; bfloat16 panels 16 units x 16 pairs
// of k, a pair being one 32-bit word). Words are moved, never computed on, so any bits (bfloat16 pairs, NaN
// payloads) arrive unchanged.
#pragma once
#include <cstdint>

namespace rnn::cpu {

// True when the CPU runs it (simdLevel() == 2).
bool hasTranspose16();

// dst[i * dstStride + j] = src[j * srcStride + i] for i, j < 16 (strides in words). Only when hasTranspose16().
void transpose16(const uint32_t* src, int64_t srcStride, uint32_t* dst, int64_t dstStride);

// True when the CPU runs transpose8 (simdLevel() >= 1).
bool hasTranspose8();

// dst[i * dstStride + j] = src[j * srcStride + i] for i, j < 8. Only when hasTranspose8().
void transpose8(const uint32_t* src, int64_t srcStride, uint32_t* dst, int64_t dstStride);

}  // namespace rnn::cpu
