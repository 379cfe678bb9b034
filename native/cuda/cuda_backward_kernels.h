// Launchers of the CUDA backward element-wise kernels (cuda_backward_kernels.cu): the reverse step of
// each cell, mirroring native/cpu/cell_backward.cpp, and the small kernels around the per-step GEMM.
// Plain C++ types only, so host code using cuBLAS includes this without the CUDA compiler.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "../core/cell_kind.h"

namespace rnn::cuda {

// One reverse step of one layer-direction over its `active` rows. Row b of the step is sequence row
// rowBase + b * strideB in the saved buffers and in the gate-gradient buffers.
struct StepGradParams {
  CellKind kind;
  int active;
  int hidden;              // H
  int64_t rowBase, strideB;
  const float* gradH;      // [active, H] (LSTM with projections: dL/d(h before W_hr)); GRU: updated in place
  const float* gradOutput; // when set (no projections), added to gradH: row b's at (rowBase + b*strideB) * stride
  int64_t gradOutputStride;
  float* gradHInPlace;     // GRU: gradH itself, receives dL/dh * z (the path that skips W_hh); else null
  const float* saved;      // gates, row r at r * savedBlocks*H (rnn_saved.h)
  const float* hPrev;      // [rows, H] (GRU)
  const float* cPrev;      // [rows, H] (LSTM)
  float* gradC;            // [B, H] LSTM: dL/dc in, dL/dc_{t-1} out
  float* gradGatesX;       // [rows, G*H] dL/d(pre-activations), input side
  float* gradGatesH;       // [rows, G*H] recurrent side (differs for GRU's n gate; may equal gradGatesX)
};

void launchCellBackward(const StepGradParams& p, cudaStream_t stream);

// For rows b < active: dh[b, :] += gradOutput[row(b) * gradOutputStride + :] (when given), and then, when
// dhRows is given, dhRows[row(b) * P + :] = dh[b, :] (what dL/dW_hr needs later).
void launchAddStepGrad(float* dh, int active, int P, const float* gradOutput, int64_t gradOutputStride, int64_t rowBase,
                       int64_t strideB, float* dhRows, cudaStream_t stream);

// dst[i] += src[i]
void launchAdd(float* dst, const float* src, int64_t n, cudaStream_t stream);

}  // namespace rnn::cuda
