// The element-wise step of one (row, unit) of each cell, shared by the step kernel (recurrent projection
// from a cuBLAS GEMM in global memory) and the fused small-batch kernel (projection in shared memory):
// PyTorch's gate orders, LSTM i,f,g,o; GRU r,z,n with n = tanh(x_n + b_in + r * (h_n + b_hn)).
#pragma once
#include "cuda_elem.cuh"
#include "cuda_kernels.h"

namespace rnn::cuda {

__device__ __forceinline__ float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

// `hg(g)` is the recurrent projection (W_hh h) of gate g for this row and unit. Rows at or past p.active
// (done, or in reverse not started) keep their state. h is read and written as T (float or a half type); the
// arithmetic is float32.
template <class T, class HG>
__device__ __forceinline__ void stepUnit(const StepParamsOf<T>& p, int b, int j, HG hg) {
  const int H = p.hidden, P = p.outSize;
  if (b >= p.active) {
    if (!p.hFull) p.hNext[int64_t(b) * P + j] = p.hCur[int64_t(b) * P + j];
    return;
  }
  const int64_t row = p.rowBase + b * p.strideB;
  const float* x = p.xg;
  const int64_t xrow = row - p.xgRow0;  // xg may hold only a chunk of the rows
  float h;
  switch (p.kind) {
    case CellKind::Lstm: {
      const int64_t xr = xrow * 4 * H;
      const float i = sigmoid(x[xr + j] + hg(0) + p.biasX[j]);
      const float f = sigmoid(x[xr + H + j] + hg(1) + p.biasX[H + j]);
      const float cell = tanhf(x[xr + 2 * H + j] + hg(2) + p.biasX[2 * H + j]);
      const float o = sigmoid(x[xr + 3 * H + j] + hg(3) + p.biasX[3 * H + j]);
      float* c = p.c + int64_t(b) * H + j;
      const float cOld = *c, cNew = f * cOld + i * cell;
      *c = cNew;
      h = o * tanhf(cNew);
      if (p.savedGates) {
        float* s = p.savedGates + row * 4 * H + j;
        s[0] = i;
        s[H] = f;
        s[2 * H] = cell;
        s[3 * H] = o;
        p.savedCPrev[row * H + j] = cOld;
      }
      break;
    }
    case CellKind::Gru: {
      const int64_t xr = xrow * 3 * H;
      const float r = sigmoid(x[xr + j] + hg(0) + p.biasX[j]);
      const float z = sigmoid(x[xr + H + j] + hg(1) + p.biasX[H + j]);
      const float hn = hg(2) + p.biasHn[j];
      const float n = tanhf(x[xr + 2 * H + j] + p.biasX[2 * H + j] + r * hn);
      h = n + z * (toFloat(p.hCur[int64_t(b) * P + j]) - n);
      if (p.savedGates) {
        float* s = p.savedGates + row * 4 * H + j;
        s[0] = r;
        s[H] = z;
        s[2 * H] = n;
        s[3 * H] = hn;
      }
      break;
    }
    default: {
      const float pre = x[xrow * H + j] + hg(0) + p.biasX[j];
      // pre < 0 rather than pre > 0 so that NaN passes through, as in PyTorch
      h = p.kind == CellKind::RnnRelu ? (pre < 0.f ? 0.f : pre) : tanhf(pre);
      if (p.savedGates) p.savedGates[row * H + j] = h;
      break;
    }
  }
  if (p.savedHPrev && j < P) p.savedHPrev[row * P + j] = toFloat(p.hCur[int64_t(b) * P + j]);
  if (p.savedHFull) p.savedHFull[row * H + j] = h;
  const T hOut = fromFloat<T>(h);
  if (p.hFull) {
    p.hFull[int64_t(b) * H + j] = hOut;
  } else {
    p.hNext[int64_t(b) * P + j] = hOut;
    p.output[row * p.outputStride + j] = hOut;
  }
}

}  // namespace rnn::cuda
