// Launchers of the optimizers' element-wise updates on CUDA parameters (cuda_optim_kernels.cu): the same
// float32 arithmetic as lib/optim's host updates (PyTorch's single-tensor algorithms), so a CUDA parameter
// is updated where it lives instead of being downloaded and uploaded every step.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace rnn::cuda {

struct SgdParams {
  float negLr, weightDecay, momentum, keep;  // keep = 1 - dampening
  bool nesterov, maximize;
  bool firstStep;  // the momentum buffer starts as a copy of the (decayed) gradient
};

// buf null: no momentum.
void launchSgd(float* param, const float* grad, float* buf, int64_t n, const SgdParams& s, cudaStream_t stream);

struct AdamParams {
  float negStepSize, biasCorrection2Sqrt, eps, weightDecay, decay;  // decay = 1 - lr * weightDecay (AdamW)
  float w1, oneMinusW1, beta2, w2;                                   // w1 = 1 - beta1, w2 = 1 - beta2
  bool decoupled, maximize;
};

// maxExpAvgSq null: no amsgrad.
void launchAdam(float* param, const float* grad, float* expAvg, float* expAvgSq, float* maxExpAvgSq, int64_t n,
                const AdamParams& a, cudaStream_t stream);

}  // namespace rnn::cuda
