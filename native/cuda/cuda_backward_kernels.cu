// CUDA backward element-wise kernels: the reverse cell step (cuda_cell_backward.cuh), one thread per (row, unit),
// and the small kernels around the per-step GEMM.
#include "cuda_backward_kernels.h"

#include "cuda_cell_backward.cuh"

namespace rnn::cuda {

namespace {

constexpr int kThreads = 256;

inline unsigned blocksFor(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

__global__ void cellBackwardKernel(StepGradParams p) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int H = p.hidden;
  if (idx >= int64_t(p.active) * H) return;
  cellBackwardUnit(p, int(idx / H), int(idx % H));
}

__global__ void addStepGradKernel(float* dh, int active, int P, const float* gradOutput, int64_t gradOutputStride,
                                  int64_t rowBase, int64_t strideB, float* dhRows) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(active) * P) return;
  const int b = int(idx / P), c = int(idx % P);
  const int64_t row = rowBase + b * strideB;
  float v = dh[idx];
  if (gradOutput) {
    v += gradOutput[row * gradOutputStride + c];
    dh[idx] = v;
  }
  if (dhRows) dhRows[row * P + c] = v;
}

__global__ void addKernel(float* dst, const float* src, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] += src[i];
}

}  // namespace

void launchCellBackward(const StepGradParams& p, cudaStream_t stream) {
  const int64_t n = int64_t(p.active) * p.hidden;
  if (n > 0) cellBackwardKernel<<<blocksFor(n), kThreads, 0, stream>>>(p);
}

void launchAddStepGrad(float* dh, int active, int P, const float* gradOutput, int64_t gradOutputStride, int64_t rowBase,
                       int64_t strideB, float* dhRows, cudaStream_t stream) {
  const int64_t n = int64_t(active) * P;
  if (n > 0 && (gradOutput || dhRows)) {
    addStepGradKernel<<<blocksFor(n), kThreads, 0, stream>>>(dh, active, P, gradOutput, gradOutputStride, rowBase, strideB, dhRows);
  }
}

void launchAdd(float* dst, const float* src, int64_t n, cudaStream_t stream) {
  if (n > 0) addKernel<<<blocksFor(n), kThreads, 0, stream>>>(dst, src, n);
}

}  // namespace rnn::cuda
