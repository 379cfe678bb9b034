// The CPU backend of the shared driver: OpenBLAS GEMMs, the fused steps, copies and dropout.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/rnn_spec.h"
#include "../core/step_args.h"

namespace rnn::cpu {

class CpuBackend {
 public:
  // Scratch memory for one call, reused by later calls on the same thread.
  float* workspace(size_t n);
  // C[M,N] = A[M,K] * B[N,K]^T (row-major; B is a PyTorch weight [out, in]).
  void gemmNT(int64_t M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
  void step(const StepArgs& args);
  // GRU keeps b_hn apart (it is scaled by r); every other bias is summed once per call.
  void combineBias(CellKind kind, const float* bIh, const float* bHh, int H, float* dst);
  void copy(float* dst, const float* src, size_t n);
  void zero(float* dst, size_t n);
  void scatterRows(float* dst, int64_t dstStride, const float* src, int rows, int cols);
  void dropout(float* data, size_t n, float p, uint64_t seed);
};

void rnnForwardCpu(const RnnSpec& spec, const RnnIo& io);

void setNumThreads(int n);
int getNumThreads();

}  // namespace rnn::cpu
