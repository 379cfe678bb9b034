// Launchers of the element-wise kernels for float16 / bfloat16 tensors (cuda_half_kernels.cu): fill and
// conversion of whole buffers, and the pieces of the half-precision forward around the shared step kernel
// (biases folded into float32, dropout on half activations, the float32 cell state to and from half).
// Plain C++ types only, so that host code using cuBLAS includes this without the CUDA compiler.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "../core/cell_kind.h"
#include "../core/elem_type.h"

namespace rnn::cuda {

// n elements of `type` (F16 or BF16) set to `value`, rounded to nearest even.
void launchFillHalf(void* data, ElemType type, int64_t n, float value, cudaStream_t stream);
// dst[i] = src[i] converted (any pair of types; equal types copy).
void launchConvert(void* dst, ElemType dstType, const void* src, ElemType srcType, int64_t n, cudaStream_t stream);
// launchCombineBias (cuda_kernels.h) for half biases: float32 biasX [G*H] and biasHn [H] from bIh, bHh of `type`.
void launchCombineBiasHalf(CellKind kind, ElemType type, const void* bIh, const void* bHh, int H, float* biasX, float* biasHn,
                           cudaStream_t stream);
// launchDropout for half activations (the same counter-based mask as the float32 kernel and the CPU).
void launchDropoutHalf(void* data, ElemType type, int64_t n, float p, uint64_t seed, cudaStream_t stream);

}  // namespace rnn::cuda
