// CPU GRU step (PyTorch gate order r, z, n):
//   r = sigmoid(x_r + h_r + b),  z = sigmoid(x_z + h_z + b),
//   n = tanh(x_n + b_in + r * (h_n + b_hn)),  h' = (1 - z) * n + z * h
#include "activations.h"
#include "simd_clones.h"
#include "steps.h"

namespace rnn::cpu {

RNN_SIMD_CLONES
void gruStep(const StepArgs& a) {
  const int H = a.hidden;
  for (int b = 0; b < a.batch; ++b) {
    const float* __restrict x = a.xg + b * a.xgStride;
    const float* __restrict hr = a.hg + b * 3 * H;
    const float* __restrict hz = hr + H;
    const float* __restrict hn = hr + 2 * H;
    const float* hPrev = a.hPrev + b * H;
    float* hNew = a.hNew + b * H;
    const float* bx = a.biasX;
    for (int j = 0; j < H; ++j) {
      const float bR = bx ? bx[j] : 0.f, bZ = bx ? bx[H + j] : 0.f, bN = bx ? bx[2 * H + j] : 0.f;
      const float bHn = a.biasHn ? a.biasHn[j] : 0.f;
      const float r = fastSigmoid(x[j] + hr[j] + bR);
      const float z = fastSigmoid(x[H + j] + hz[j] + bZ);
      const float n = fastTanh(x[2 * H + j] + bN + r * (hn[j] + bHn));
      hNew[j] = n + z * (hPrev[j] - n);
    }
  }
}

}  // namespace rnn::cpu
