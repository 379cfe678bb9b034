// CUDA backward element-wise kernels. Derivatives as in native/cpu/cell_backward.cpp (PyTorch's equations,
// differentiated); one thread per (row, unit).
#include "cuda_backward_kernels.h"

namespace rnn::cuda {

namespace {

constexpr int kThreads = 256;

inline unsigned blocksFor(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

__global__ void cellBackwardKernel(StepGradParams p) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int H = p.hidden;
  if (idx >= int64_t(p.active) * H) return;
  const int b = int(idx / H), j = int(idx % H);
  const int64_t row = p.rowBase + b * p.strideB;
  const float dh = p.gradH[int64_t(b) * H + j] + (p.gradOutput ? p.gradOutput[row * p.gradOutputStride + j] : 0.f);
  switch (p.kind) {
    case CellKind::Lstm: {
      const float* s = p.saved + row * 4 * H + j;
      const float i = s[0], f = s[H], g = s[2 * H], o = s[3 * H];
      const float cp = p.cPrev[row * H + j];
      const float tc = tanhf(f * cp + i * g);
      float* dc = p.gradC + int64_t(b) * H + j;
      const float dcj = *dc + dh * o * (1.f - tc * tc);
      float* gx = p.gradGatesX + row * 4 * H + j;
      gx[0] = dcj * g * i * (1.f - i);
      gx[H] = dcj * cp * f * (1.f - f);
      gx[2 * H] = dcj * i * (1.f - g * g);
      gx[3 * H] = dh * tc * o * (1.f - o);
      *dc = dcj * f;
      break;
    }
    case CellKind::Gru: {
      const float* s = p.saved + row * 4 * H + j;
      const float r = s[0], z = s[H], n = s[2 * H], hn = s[3 * H];
      const float hp = p.hPrev[row * H + j];
      const float dan = dh * (1.f - z) * (1.f - n * n);
      const float dar = dan * hn * r * (1.f - r);
      const float daz = dh * (hp - n) * z * (1.f - z);
      float* gx = p.gradGatesX + row * 3 * H + j;
      float* gh = p.gradGatesH + row * 3 * H + j;
      gx[0] = gh[0] = dar;
      gx[H] = gh[H] = daz;
      gx[2 * H] = dan;
      gh[2 * H] = dan * r;
      p.gradHInPlace[int64_t(b) * H + j] = dh * z;
      break;
    }
    default: {
      const float h = p.saved[row * H + j];
      p.gradGatesX[row * H + j] = p.kind == CellKind::RnnRelu ? (h > 0.f ? dh : 0.f) : dh * (1.f - h * h);
      break;
    }
  }
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
