// Derivatives, per unit j (PyTorch's equations, differentiated):
//   LSTM: c = f c' + i g, h = o tanh(c):  do = dh tanh(c), dc += dh o (1 - tanh^2 c), di = dc g, df = dc c',
//         dg = dc i, dc' = dc f; pre-activation grads di i(1-i), df f(1-f), dg (1-g^2), do o(1-o).
//   GRU:  h = (1-z) n + z h', n = tanh(a_n), a_n = x_n + b_in + r hn:  dn = dh (1-z), dz = dh (h' - n),
//         da_n = dn (1-n^2), dr = da_n hn; input side [dr r(1-r), dz z(1-z), da_n], recurrent side
//         [.., .., da_n r]; dh' gets dh z directly.
//   RNN:  h = act(a): da = dh (1 - h^2) for tanh, dh [h > 0] for relu.
#include "cell_backward.h"

#include <cmath>

namespace rnn::cpu {

namespace {

void lstmBackward(const StepGradArgs& a) {
  const int n = a.hidden, H = a.gateStride;
  for (int b = 0; b < a.batch; ++b) {
    const float* dh = a.gradH + b * a.gradHStride;
    const float* s = a.saved + b * a.savedStride;
    const float* cp = a.cPrev + b * a.cPrevStride;
    float* dc = a.gradC + int64_t(b) * H;
    float* gx = a.gradGatesX + b * a.gradStride;
    for (int j = 0; j < n; ++j) {
      const float i = s[j], f = s[H + j], g = s[2 * H + j], o = s[3 * H + j];
      const float tc = std::tanh(f * cp[j] + i * g);
      const float dcj = dc[j] + dh[j] * o * (1.f - tc * tc);
      gx[j] = dcj * g * i * (1.f - i);
      gx[H + j] = dcj * cp[j] * f * (1.f - f);
      gx[2 * H + j] = dcj * i * (1.f - g * g);
      gx[3 * H + j] = dh[j] * tc * o * (1.f - o);
      dc[j] = dcj * f;
    }
  }
}

void gruBackward(const StepGradArgs& a) {
  const int n = a.hidden, H = a.gateStride;
  for (int b = 0; b < a.batch; ++b) {
    const float* dh = a.gradH + b * a.gradHStride;
    const float* s = a.saved + b * a.savedStride;
    const float* hp = a.hPrev + b * a.hPrevStride;
    float* gx = a.gradGatesX + b * a.gradStride;
    float* gh = a.gradGatesH + b * a.gradStride;
    float* direct = a.gradHDirect + int64_t(b) * H;
    for (int j = 0; j < n; ++j) {
      const float r = s[j], z = s[H + j], n = s[2 * H + j], hn = s[3 * H + j];
      const float dan = dh[j] * (1.f - z) * (1.f - n * n);
      const float dar = dan * hn * r * (1.f - r);
      const float daz = dh[j] * (hp[j] - n) * z * (1.f - z);
      gx[j] = gh[j] = dar;
      gx[H + j] = gh[H + j] = daz;
      gx[2 * H + j] = dan;
      gh[2 * H + j] = dan * r;
      direct[j] = dh[j] * z;
    }
  }
}

void rnnBackward(const StepGradArgs& a) {
  const int n = a.hidden;
  const bool relu = a.kind == CellKind::RnnRelu;
  for (int b = 0; b < a.batch; ++b) {
    const float* dh = a.gradH + b * a.gradHStride;
    const float* h = a.saved + b * a.savedStride;
    float* gx = a.gradGatesX + b * a.gradStride;
    for (int j = 0; j < n; ++j) gx[j] = relu ? (h[j] > 0.f ? dh[j] : 0.f) : dh[j] * (1.f - h[j] * h[j]);
  }
}

}  // namespace

void cellBackward(const StepGradArgs& a) {
  switch (a.kind) {
    case CellKind::Lstm: lstmBackward(a); break;
    case CellKind::Gru: gruBackward(a); break;
    default: rnnBackward(a); break;
  }
}

}  // namespace rnn::cpu
