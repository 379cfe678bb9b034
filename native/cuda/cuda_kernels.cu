// CUDA element-wise kernels: the fused step of each cell (PyTorch gate orders: LSTM i,f,g,o;
// GRU r,z,n with n = tanh(x_n + b_in + r * (h_n + b_hn))), bias folding, dropout and fill.
#include "cuda_kernels.h"

#include "../core/dropout_mask.h"
#include "cuda_cell_step.cuh"

namespace rnn::cuda {

namespace {

constexpr int kThreads = 256;

inline unsigned blocksFor(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

template <class T>
__global__ void stepKernel(StepParamsOf<T> p) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int H = p.hidden;
  if (idx >= int64_t(p.batch) * H) return;
  const int b = int(idx / H), j = int(idx % H);
  const float* hg = p.hg + int64_t(b) * gateCount(p.kind) * H + j;
  stepUnit(p, b, j, [&](int g) { return hg[g * H]; });
}

template <class T>
__global__ void finishProjectedKernel(StepParamsOf<T> p) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int P = p.outSize;
  if (idx >= int64_t(p.batch) * P) return;
  const int b = int(idx / P), k = int(idx % P);
  if (b >= p.active) {
    p.hNext[idx] = p.hCur[idx];
  } else {
    p.output[(p.rowBase + b * p.strideB) * p.outputStride + k] = p.hNext[idx];
  }
}

__global__ void combineBiasKernel(CellKind kind, const float* bIh, const float* bHh, int H, float* biasX, float* biasHn) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int G = gateCount(kind);
  if (j >= G * H) return;
  if (kind == CellKind::Gru && j >= 2 * H) {
    biasX[j] = bIh[j];
    biasHn[j - 2 * H] = bHh[j];
  } else {
    biasX[j] = bIh[j] + bHh[j];
  }
}

// The CPU's mask (native/core/dropout_mask.h).
__global__ void dropoutKernel(float* data, int64_t n, float p, uint64_t seed) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  data[i] = dropoutDrops(seed, uint64_t(i), p) ? 0.f : data[i] * dropoutScale(p);
}

__global__ void fillKernel(float* data, int64_t n, float value) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) data[i] = value;
}

}  // namespace

template <class T>
void launchStep(const StepParamsOf<T>& p, cudaStream_t stream) {
  const int64_t n = int64_t(p.batch) * p.hidden;
  if (n > 0) stepKernel<T><<<blocksFor(n), kThreads, 0, stream>>>(p);
}

template <class T>
void launchFinishProjected(const StepParamsOf<T>& p, cudaStream_t stream) {
  const int64_t n = int64_t(p.batch) * p.outSize;
  if (n > 0) finishProjectedKernel<T><<<blocksFor(n), kThreads, 0, stream>>>(p);
}

template void launchStep<float>(const StepParamsOf<float>&, cudaStream_t);
template void launchStep<F16Bits>(const StepParamsOf<F16Bits>&, cudaStream_t);
template void launchStep<BF16Bits>(const StepParamsOf<BF16Bits>&, cudaStream_t);
template void launchFinishProjected<float>(const StepParamsOf<float>&, cudaStream_t);
template void launchFinishProjected<F16Bits>(const StepParamsOf<F16Bits>&, cudaStream_t);
template void launchFinishProjected<BF16Bits>(const StepParamsOf<BF16Bits>&, cudaStream_t);

void launchCombineBias(CellKind kind, const float* bIh, const float* bHh, int H, float* biasX, float* biasHn,
                       cudaStream_t stream) {
  const int n = gateCount(kind) * H;
  combineBiasKernel<<<blocksFor(n), kThreads, 0, stream>>>(kind, bIh, bHh, H, biasX, biasHn);
}

void launchDropout(float* data, int64_t n, float p, uint64_t seed, cudaStream_t stream) {
  if (n > 0) dropoutKernel<<<blocksFor(n), kThreads, 0, stream>>>(data, n, p, seed);
}

void launchFill(float* data, int64_t n, float value, cudaStream_t stream) {
  if (n > 0) fillKernel<<<blocksFor(n), kThreads, 0, stream>>>(data, n, value);
}

}  // namespace rnn::cuda
