// The CUDA backend of the shared driver: cuBLAS GEMMs (the input projection of the whole sequence,
// one recurrent GEMM per step) and one fused element-wise kernel per step, on the calling thread's
// stream for the device.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/rnn_driver.h"
#include "cuda_context.h"

namespace rnn::cuda {

// Device memory for one call, freed (stream-ordered) when it goes out of scope.
class DeviceScratch {
 public:
  DeviceScratch(Context& ctx, size_t floats);
  ~DeviceScratch();
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  DeviceScratch(DeviceScratch&& other) noexcept : ctx_(other.ctx_), data_(other.data_) { other.data_ = nullptr; }
  float* data() const { return data_; }

 private:
  Context& ctx_;
  float* data_ = nullptr;
};

class CudaBackend {
 public:
  explicit CudaBackend(int device) : ctx_(context(device)) {}
  void recurrence(const LayerDirection& ld);
  DeviceScratch scratch(size_t n) { return DeviceScratch(ctx_, n); }
  void copy(float* dst, const float* src, size_t n);
  void zero(float* dst, size_t n);
  void dropout(float* data, size_t n, float p, uint64_t seed);
  void finish() { synchronize(ctx_); }

 private:
  void gemmNT(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
  Context& ctx_;
};

void rnnForwardCuda(const RnnSpec& spec, const RnnIo& io, int device);

}  // namespace rnn::cuda
