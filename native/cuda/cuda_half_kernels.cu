// Element-wise kernels for float16 / bfloat16 buffers (see cuda_half_kernels.h). One thread per element;
// values are read to float32, computed in float32 and stored rounded to nearest even.
#include "../core/dropout_mask.h"
#include "cuda_elem.cuh"
#include "cuda_half_kernels.h"

namespace rnn::cuda {

namespace {

constexpr int kThreads = 256;

inline unsigned blocksFor(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

template <class T>
__global__ void fillKernel(T* data, int64_t n, float value) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) data[i] = fromFloat<T>(value);
}

template <class D, class S>
__global__ void convertKernel(D* dst, const S* src, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = fromFloat<D>(toFloat(src[i]));
}

template <class T>
__global__ void combineBiasKernel(CellKind kind, const T* bIh, const T* bHh, int H, float* biasX, float* biasHn) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int G = gateCount(kind);
  if (j >= G * H) return;
  const float a = toFloat(bIh[j]), b = toFloat(bHh[j]);
  if (kind == CellKind::Gru && j >= 2 * H) {
    biasX[j] = a;
    biasHn[j - 2 * H] = b;
  } else {
    biasX[j] = a + b;
  }
}

// The CPU's mask (native/core/dropout_mask.h), applied to half values.
template <class T>
__global__ void dropoutKernel(T* data, int64_t n, float p, uint64_t seed) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  data[i] = fromFloat<T>(dropoutDrops(seed, uint64_t(i), p) ? 0.f : toFloat(data[i]) * dropoutScale(p));
}

template <class D>
void convertFrom(D* dst, const void* src, ElemType srcType, int64_t n, cudaStream_t stream) {
  switch (srcType) {
    case ElemType::F16: convertKernel<<<blocksFor(n), kThreads, 0, stream>>>(dst, static_cast<const F16Bits*>(src), n); break;
    case ElemType::BF16: convertKernel<<<blocksFor(n), kThreads, 0, stream>>>(dst, static_cast<const BF16Bits*>(src), n); break;
    default: convertKernel<<<blocksFor(n), kThreads, 0, stream>>>(dst, static_cast<const float*>(src), n); break;
  }
}

}  // namespace

void launchFillHalf(void* data, ElemType type, int64_t n, float value, cudaStream_t stream) {
  if (n <= 0) return;
  if (type == ElemType::F16) fillKernel<<<blocksFor(n), kThreads, 0, stream>>>(static_cast<F16Bits*>(data), n, value);
  else if (type == ElemType::BF16) fillKernel<<<blocksFor(n), kThreads, 0, stream>>>(static_cast<BF16Bits*>(data), n, value);
  else fillKernel<<<blocksFor(n), kThreads, 0, stream>>>(static_cast<float*>(data), n, value);
}

void launchConvert(void* dst, ElemType dstType, const void* src, ElemType srcType, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  switch (dstType) {
    case ElemType::F16: convertFrom(static_cast<F16Bits*>(dst), src, srcType, n, stream); break;
    case ElemType::BF16: convertFrom(static_cast<BF16Bits*>(dst), src, srcType, n, stream); break;
    default: convertFrom(static_cast<float*>(dst), src, srcType, n, stream); break;
  }
}

void launchCombineBiasHalf(CellKind kind, ElemType type, const void* bIh, const void* bHh, int H, float* biasX, float* biasHn,
                           cudaStream_t stream) {
  const int n = gateCount(kind) * H;
  if (n <= 0) return;
  if (type == ElemType::BF16) {
    combineBiasKernel<<<blocksFor(n), kThreads, 0, stream>>>(kind, static_cast<const BF16Bits*>(bIh), static_cast<const BF16Bits*>(bHh),
                                                            H, biasX, biasHn);
  } else {
    combineBiasKernel<<<blocksFor(n), kThreads, 0, stream>>>(kind, static_cast<const F16Bits*>(bIh), static_cast<const F16Bits*>(bHh),
                                                            H, biasX, biasHn);
  }
}

void launchDropoutHalf(void* data, ElemType type, int64_t n, float p, uint64_t seed, cudaStream_t stream) {
  if (n <= 0) return;
  if (type == ElemType::BF16) dropoutKernel<<<blocksFor(n), kThreads, 0, stream>>>(static_cast<BF16Bits*>(data), n, p, seed);
  else dropoutKernel<<<blocksFor(n), kThreads, 0, stream>>>(static_cast<F16Bits*>(data), n, p, seed);
}

}  // namespace rnn::cuda
