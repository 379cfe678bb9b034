// The float16 / bfloat16 forward on CUDA: PyTorch's half-precision RNNs in cuDNN's way, half storage with
// float32 arithmetic. Inputs, weights, h and the outputs are half; every GEMM (cublasGemmEx, A and B half,
// CUBLAS_COMPUTE_32F) accumulates in float32 into float32 gate buffers; biases are folded into float32; the
// step kernel (the shared stepUnit, instantiated for the half type) computes in float32, keeps the LSTM cell
// state c in a float32 buffer and rounds h once per step (h is the next step's GEMM operand, as in PyTorch).
// c_0 is widened at the start and c_n rounded at the end (rnn_driver.h's schedule, over half activations); no
// CUDA graph and no fused step (both float32 only for now), no saving for backward (lib/ converts to float32 for
// training instead).
#include <cstdint>
#include <type_traits>
#include <utility>

#include "cuda_backend.h"
#include "cuda_half_kernels.h"
#include "cuda_kernels.h"

namespace rnn::cuda {

namespace {

cudaDataType blasType(ElemType t) { return t == ElemType::BF16 ? CUDA_R_16BF : t == ElemType::F16 ? CUDA_R_16F : CUDA_R_32F; }

// Row-major C[M,N] = A[M,K] B[N,K]^T with A, B of `in` and C of `out`, accumulated in float32 (column-major
// cuBLAS computes C^T = B A^T, as CudaBackend::gemmNT).
void gemmEx(Context& ctx, ElemType in, ElemType out, int M, int N, int K, const void* A, int lda, const void* B, int ldb, void* C,
            int ldc) {
  if (M <= 0 || N <= 0) return;
  const float one = 1.f, zero = 0.f;
  check(cublasGemmEx(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, B, blasType(in), ldb, A, blasType(in), lda, &zero, C,
                     blasType(out), ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
}

// The driver's backend for half storage (T = F16Bits or BF16Bits): activations, h, the inter-layer buffers and the
// weights are T; the cell state is float32.
template <class T>
class HalfBackend : public CudaBackend {
 public:
  using Elem = T;
  static constexpr ElemType kElemType = std::is_same_v<T, BF16Bits> ? ElemType::BF16 : ElemType::F16;
  using Weights = WeightsOf<T>;
  using CudaBackend::CudaBackend;
  void recurrence(const LayerDirectionOf<T, Weights>& ld);
  void dropout(T* data, size_t n, float p, uint64_t seed) { launchDropoutHalf(data, kElemType, int64_t(n), p, seed, ctx().stream); }
};

template <class T>
void HalfBackend<T>::recurrence(const LayerDirectionOf<T, Weights>& ld) {
  Context& ctx = this->ctx();
  const ElemType type = kElemType;
  const SeqLayout& L = *ld.layout;
  const int T_ = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = ld.weights.wHr != nullptr;
  const int64_t rows = L.rows;

  DeviceScratch xg = scratch(size_t(rows) * GH), hg = scratch(size_t(B) * GH), bias = scratch(size_t(GH) + H);
  DeviceScratch hSpare = scratch<T>(size_t(B) * P), hFull = scratch<T>(proj ? size_t(B) * H : 0);
  float* biasX = bias.data();
  float* biasHn = biasX + GH;
  check(cudaMemsetAsync(biasX, 0, sizeof(float) * (GH + H), ctx.stream), "cudaMemsetAsync");
  if (ld.weights.bIh) launchCombineBiasHalf(ld.kind, type, ld.weights.bIh, ld.weights.bHh, H, biasX, biasHn, ctx.stream);

  check(cublasSetMathMode(ctx.blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  gemmEx(ctx, type, ElemType::F32, int(rows), GH, I, ld.input, I, ld.weights.wIh, I, xg.data(), GH);
  T* hCur = ld.h;
  T* hNext = reinterpret_cast<T*>(hSpare.data());
  for (int s = 0; s < T_; ++s) {
    const int t = ld.reverse ? T_ - 1 - s : s;
    const int bs = L.batchSizes[t];
    gemmEx(ctx, type, ElemType::F32, bs, GH, P, hCur, P, ld.weights.wHh, P, hg.data(), GH);
    StepParamsOf<T> p{ld.kind, B, bs, H, P, xg.data(), L.rowBase[t], L.strideB, hg.data(), biasX, biasHn,
                      hCur, hNext, proj ? reinterpret_cast<T*>(hFull.data()) : nullptr, ld.c, ld.output, ld.outputStride};
    launchStep(p, ctx.stream);
    if (proj) {
      // h_t = W_hr (o * tanh(c)): half operands, float32 accumulation, rounded once into hNext
      gemmEx(ctx, type, type, bs, P, H, hFull.data(), H, ld.weights.wHr, H, hNext, P);
      launchFinishProjected(p, ctx.stream);
    }
    check(cudaGetLastError(), "step kernel launch");
    std::swap(hCur, hNext);
  }
  if (hCur != ld.h) copy(ld.h, hCur, size_t(B) * P);
}

template <class T>
void forward(int device, const RnnSpec& spec, const RnnIo& io) {
  HalfBackend<T> backend(device);
  try {
    rnnForward(backend, spec, io);
    check(cudaGetLastError(), "half forward kernel launch");
  } catch (...) {
    cudaStreamSynchronize(backend.ctx().stream);  // leave no work in flight on memory the caller may free
    throw;
  }
  backend.finish();
}

}  // namespace

void rnnForwardCudaHalf(const RnnSpec& spec, const RnnIo& io, int device) {
  if (spec.dtype == ElemType::BF16) forward<BF16Bits>(device, spec, io);
  else forward<F16Bits>(device, spec, io);
}

}  // namespace rnn::cuda
