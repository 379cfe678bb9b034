// The reverse step of one (row, unit) of each cell, shared by the per-step backward kernel and the persistent
// backward loop. Derivatives as in native/cpu/cell_backward.cpp (PyTorch's equations, differentiated); the
// caller guarantees b < p.active.
#pragma once
#include "cuda_backward_kernels.h"

namespace rnn::cuda {

__device__ __forceinline__ void cellBackwardUnit(const StepGradParams& p, int b, int j) {
  const int H = p.hidden;
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

}  // namespace rnn::cuda
