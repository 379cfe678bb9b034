// Loads and stores of the element types a CUDA tensor may hold, for kernels templated on them: float, and
// float16 / bfloat16 as F16Bits / BF16Bits (cuda_kernels.h) read through cuda_fp16.h / cuda_bf16.h. Arithmetic
// is always float32; stores round to nearest even (__float2half_rn, __float2bfloat16_rn), as PyTorch does.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_kernels.h"

namespace rnn::cuda {

__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(F16Bits v) { return __half2float(__ushort_as_half(v.bits)); }
__device__ __forceinline__ float toFloat(BF16Bits v) { return __bfloat162float(__ushort_as_bfloat16(v.bits)); }

template <class T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) { return v; }
// A NaN is stored as the quiet NaN that the host conversions (lib/half.ts) and PyTorch's CPU write (0x7e00,
// 0x7fc0), not CUDA's own (0x7fff): a tensor's bits then do not depend on the side that converted it.
template <>
__device__ __forceinline__ F16Bits fromFloat<F16Bits>(float v) {
  return F16Bits{isnan(v) ? static_cast<unsigned short>(0x7e00) : __half_as_ushort(__float2half_rn(v))};
}
template <>
__device__ __forceinline__ BF16Bits fromFloat<BF16Bits>(float v) {
  return BF16Bits{isnan(v) ? static_cast<unsigned short>(0x7fc0) : __bfloat16_as_ushort(__float2bfloat16_rn(v))};
}

}  // namespace rnn::cuda
