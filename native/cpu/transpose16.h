// A 16 x 16 block of 32-bit words transposed in AVX-512 registers, and an 8 x 8 block in AVX2's: the weight packers'
// inner blocks (float32 panels take U units x 16 k, bfloat16 panels U units x 16 pairs of k, a pair being one 32-bit
// word; U = 16, or 8 at AVX2). Words are moved, never computed on, so any bits (bfloat16 pairs, NaN payloads) arrive
// unchanged.
#pragma once
#include <cstdint>

namespace rnn::cpu {

// The packers' block: dst[i * dstStride + j] = src[j * srcStride + i] for i < 16, j < U (strides in words); one
// 16 x 16 transpose or two 8 x 8 ones. Only when hasUnitsTranspose(U): U = 16 at AVX-512, 8 at AVX2.
bool hasUnitsTranspose(int U);
void transposeUnits(int U, const uint32_t* src, int64_t srcStride, uint32_t* dst, int64_t dstStride);

}  // namespace rnn::cpu
