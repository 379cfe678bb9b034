// The small-batch step: one kernel per time step computes the recurrent projection h W_hh^T of a block of
// units in shared memory and applies the cell update to them, instead of a cuBLAS GEMM plus the step
// kernel. At small batch a step is latency-bound (cuDNN spends 11-20 us per step there); one launch
// instead of two, inside a CUDA graph, and W_hh read straight from L2 are what make it faster.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>

#include "../core/cell_kind.h"
#include "cuda_kernels.h"

namespace rnn::cuda {

struct FusedStepPlan {
  bool use = false;
  int unitsPerBlock = 0;  // U: a block computes all gates of U consecutive units
  int batchChunk = 0;     // rows a warp accumulates at once (registers per lane)
  size_t sharedBytes = 0; // h_{t-1} of every row [B, P] plus the block's projections [G*U, B]
};

// Whether a step's recurrent product is small enough to be latency-bound rather than a GEMM for cuBLAS
// (B <= 64 and B*G*H*P <= 2^25 multiply-adds). Such steps run in float32 FMA even under 'high' precision:
// TF32 buys no time there, and its rounding compounds through time (cuDNN's small-problem kernels behave
// the same way, which is why PyTorch's own TF32 gradients stay close to float32 on small cases).
bool latencyBoundStep(CellKind kind, int batch, int hidden, int outSize);

// Whether (and how) a layer-direction's forward uses the fused step: latency-bound steps of at most 16 rows
// without projections (their GEMM sits between the gates and h). NODE_RNN_CUDA_FUSED=0 turns it off (the GPU
// check runs the CUDA tests both ways).
FusedStepPlan planFusedStep(CellKind kind, int batch, int hidden, int outSize, bool projected);

// Raises the kernels' shared-memory limit on `device` (the current one), once; call before any graph capture.
cudaError_t prepareFusedStep(int device);

void launchFusedStep(const StepParams& p, const float* wHh, const FusedStepPlan& plan, cudaStream_t stream);

}  // namespace rnn::cuda
