// CPU GRU step (PyTorch gate order r, z, n):
//   r = sigmoid(x_r + h_r + b),  z = sigmoid(x_z + h_z + b),
//   n = tanh(x_n + b_in + r * (h_n + b_hn)),  h' = (1 - z) * n + z * h
#include "activations.h"
#include "simd_clones.h"
#include "steps.h"

namespace rnn::cpu {

RNN_INLINE void gruStepImpl(const StepArgs& a) {
  const int H = a.hidden;
  for (int b = 0; b < a.batch; ++b) {
    const float* __restrict x = a.xg + b * a.xgStride;
    float* __restrict g = a.hg + b * a.hgStride;
    // pre-activations first (r, z: both projections and biases; n: only the recurrent part and b_hn)
    for (int j = 0; j < 2 * H; ++j) g[j] += x[j] + a.biasX[j];
    for (int j = 0; j < H; ++j) g[2 * H + j] += a.biasHn[j];
    const float* __restrict hPrev = a.hPrev + b * a.hStride;
    float* __restrict hNew = a.hNew + b * a.hStride;
    if (a.saved) {
      // saving for backward: activate into the saved row, then form h' from there
      float* __restrict s = a.saved + b * a.savedStride;
      const int64_t k = a.savedBlockStride;
      for (int j = 0; j < H; ++j) {
        const float r = fastSigmoid(g[j]);
        s[j] = r;
        s[k + j] = fastSigmoid(g[H + j]);
        s[2 * k + j] = fastTanh(x[2 * H + j] + a.biasX[2 * H + j] + r * g[2 * H + j]);
        s[3 * k + j] = g[2 * H + j];  // W_hn h + b_hn
      }
      for (int j = 0; j < H; ++j) hNew[j] = s[2 * k + j] + s[k + j] * (hPrev[j] - s[2 * k + j]);
      continue;
    }
    for (int j = 0; j < H; ++j) {
      const float r = fastSigmoid(g[j]);
      const float z = fastSigmoid(g[H + j]);
      const float n = fastTanh(x[2 * H + j] + a.biasX[2 * H + j] + r * g[2 * H + j]);
      hNew[j] = n + z * (hPrev[j] - n);
    }
  }
}

RNN_DEFINE_DISPATCHED(gruStep, gruStepImpl)

}  // namespace rnn::cpu
