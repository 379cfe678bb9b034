// Optimizer updates on the GPU, one thread per element, written with explicit roundings (__fmul_rn, fmaf) so
// that each step rounds where lib/optim/sgd.ts and adam.ts round (those mirror PyTorch's CPU kernels).
#include "cuda_optim_kernels.h"

namespace rnn::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void sgdKernel(float* param, const float* grad, float* buf, int64_t n, SgdParams s) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float p = param[i];
  const float g = s.maximize ? -grad[i] : grad[i];
  const float d = s.weightDecay != 0.f ? fmaf(s.weightDecay, p, g) : g;  // grad.add(param, alpha=weight_decay)
  float step = d;
  if (buf) {
    const float b = s.firstStep ? d : fmaf(s.keep, d, __fmul_rn(buf[i], s.momentum));  // buf.mul_(m).add_(g, 1-damp)
    buf[i] = b;
    step = s.nesterov ? fmaf(s.momentum, b, d) : b;
  }
  param[i] = fmaf(s.negLr, step, p);  // param.add_(grad, alpha=-lr)
}

__global__ void adamKernel(float* param, const float* grad, float* m, float* v, float* vMax, int64_t n, AdamParams a) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float p = param[i];
  float g = a.maximize ? -grad[i] : grad[i];
  if (a.weightDecay != 0.f) {
    if (a.decoupled) p = __fmul_rn(p, a.decay);  // param.mul_(1 - lr * weight_decay)
    else g = fmaf(a.weightDecay, p, g);          // grad = grad.add(param, alpha=weight_decay)
  }
  // exp_avg.lerp_(grad, 1 - beta1)
  const float diff = __fsub_rn(g, m[i]);
  const float mi = a.w1 < 0.5f ? fmaf(a.w1, diff, m[i]) : fmaf(-diff, a.oneMinusW1, g);
  m[i] = mi;
  // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
  const float vi = fmaf(__fmul_rn(a.w2, g), g, __fmul_rn(v[i], a.beta2));
  v[i] = vi;
  float second = vi;
  if (vMax) {
    const float old = vMax[i];
    const float mx = (vi > old || isnan(vi)) ? vi : old;  // torch.maximum: NaN propagates
    vMax[i] = mx;
    second = mx;
  }
  const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(second), a.biasCorrection2Sqrt), a.eps);
  param[i] = __fadd_rn(p, __fdiv_rn(__fmul_rn(a.negStepSize, mi), denom));  // param.addcdiv_(exp_avg, denom, -step)
}

inline unsigned blocksFor(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

}  // namespace

void launchSgd(float* param, const float* grad, float* buf, int64_t n, const SgdParams& s, cudaStream_t stream) {
  if (n > 0) sgdKernel<<<blocksFor(n), kThreads, 0, stream>>>(param, grad, buf, n, s);
}

void launchAdam(float* param, const float* grad, float* expAvg, float* expAvgSq, float* maxExpAvgSq, int64_t n,
                const AdamParams& a, cudaStream_t stream) {
  if (n > 0) adamKernel<<<blocksFor(n), kThreads, 0, stream>>>(param, grad, expAvg, expAvgSq, maxExpAvgSq, n, a);
}

}  // namespace rnn::cuda
