// The CUDA backend of the shared driver: cuBLAS GEMMs (the input projection of the whole sequence,
// one recurrent GEMM per step) and one fused element-wise kernel per step, on the calling thread's
// stream for the device. Small problems are launch-bound, so a whole forward is captured once into a
// CUDA graph (see cuda_graphs.cpp) and replayed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/rnn_backward.h"
#include "../core/rnn_driver.h"
#include "cuda_context.h"
#include "cuda_persistent_step.h"

namespace rnn::cuda {

// Device memory for one call, freed (stream-ordered) when it goes out of scope. While a graph is
// being captured, memory comes from `owner` instead and lives as long as the graph.
class DeviceScratch {
 public:
  DeviceScratch(Context& ctx, size_t floats, std::vector<void*>* owner = nullptr);
  ~DeviceScratch();
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  DeviceScratch(DeviceScratch&& other) noexcept : ctx_(other.ctx_), data_(other.data_), owned_(other.owned_) {
    other.data_ = nullptr;
  }
  float* data() const { return data_; }

 private:
  Context& ctx_;
  float* data_ = nullptr;
  bool owned_ = false;  // true: memory belongs to a graph, not to this object
};

class CudaBackend : public Float32Storage {
 public:
  explicit CudaBackend(int device) : ctx_(context(device)) {}
  void recurrence(const LayerDirection& ld);
  void recurrenceBackward(const LayerDirectionGrad& ld);  // cuda_backward.cpp
  // n elements of T (DeviceScratch counts in floats)
  template <class T = float>
  DeviceScratch scratch(size_t n) {
    return DeviceScratch(ctx_, (n * sizeof(T) + sizeof(float) - 1) / sizeof(float), capturing_);
  }
  template <class T>
  void copy(T* dst, const T* src, size_t n) {
    check(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, ctx_.stream), "cudaMemcpyAsync");
  }
  // all-zero bits are +0 in every element type
  template <class T>
  void zero(T* dst, size_t n) {
    check(cudaMemsetAsync(dst, 0, n * sizeof(T), ctx_.stream), "cudaMemsetAsync");
  }
  // any pair of float32 / float16 / bfloat16 (equal types copy)
  void convert(void* dst, ElemType dstType, const void* src, ElemType srcType, size_t n);
  void dropout(float* data, size_t n, float p, uint64_t seed);
  void finish() { synchronize(ctx_); }
  Context& ctx() { return ctx_; }
  // While set, scratch memory is allocated for (and owned by) the graph being captured.
  void captureInto(std::vector<void*>* owner) { capturing_ = owner; }

 private:
  // 'high' precision allows TF32 in the GEMMs over the whole sequence (input projection, weight gradients,
  // dX) and in throughput-bound recurrent GEMMs; latency-bound steps (latencyBoundStep) stay float32, where
  // TF32 gains nothing and its rounding compounds through time (on the reference cases TF32 there made
  // relu-RNN gradients 3-5x less accurate than PyTorch's own TF32).
  void sequenceMath() { setMath(allowTf32()); }
  void recurrentMath(bool latencyBound) { setMath(allowTf32() && !latencyBound); }
  void setMath(bool tf32);
  // The whole time loop as one persistent kernel (cuda_persistent_step.h); false when it could not be
  // launched (nothing ran, the caller runs the step loop).
  bool persistentRecurrence(const LayerDirection& ld, const PersistentPlan& plan, const float* xg, const float* biasX,
                            const float* biasHn, float* hSpare);
  // The reverse loop as one persistent kernel (cuda_persistent_step.h), leaving dG_x / dG_h of every row in gx / gh
  // and dL/dh_0 in dh (dL/dc_0 in dc); false when it could not be launched (the caller runs the step loop).
  bool persistentRecurrenceBackward(const LayerDirectionGrad& ld, const PersistentPlan& plan, float* gx, float* gh, float* dh, float* dc);
  // Row-major GEMMs on the context's stream: C[M,N] = A[M,K] B[N,K]^T; C = A[M,K] B[K,N] + beta C;
  // C[M,N] += A[K,M]^T B[K,N] (a sum over K rows); y[N] += sum over rows of A[rows, N].
  void gemmNT(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
  void gemmNN(int M, int N, int K, const float* A, int64_t lda, const float* B, int ldb, float beta, float* C, int ldc);
  void gemmTNAccumulate(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
  void columnSumsAccumulate(int rows, int N, const float* A, int lda, const float* ones, float* y);
  Context& ctx_;
  std::vector<void*>* capturing_ = nullptr;
};

// Row-major C[M,N] = A[M,K] B[N,K]^T on `blas`'s stream; the math mode (TF32 or not) of a handle.
void blasGemmNT(cublasHandle_t blas, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
void setBlasMath(cublasHandle_t blas, bool tf32);

void rnnForwardCuda(const RnnSpec& spec, const RnnIo& io, int device);
// Unidirectional stacks whose steps are cuBLAS GEMMs too small to fill the GPU, with the layers' time loops and
// the input projections overlapped on several streams (cuda_pipelined_forward.cpp); false when the call does not
// suit (pipelinedForwardSuits) and nothing ran.
bool pipelinedForwardSuits(int device, const RnnSpec& spec);
bool rnnForwardPipelined(CudaBackend& backend, const RnnSpec& spec, const RnnIo& io);
// spec.dtype float16 / bfloat16 (cuda_half_forward.cpp): half storage, float32 GEMM accumulation and cell state.
void rnnForwardCudaHalf(const RnnSpec& spec, const RnnIo& io, int device);
void rnnBackwardCuda(const RnnSpec& spec, const RnnIo& io, const RnnGradIo& grads, int device);
// Runs the forward through a cached CUDA graph; false when the call is not suited to one (the caller
// then runs it directly).
bool rnnForwardGraph(CudaBackend& backend, const RnnSpec& spec, const RnnIo& io);

}  // namespace rnn::cuda
