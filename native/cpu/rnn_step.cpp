// CPU Elman RNN step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu.
#include "activations_vec.h"
#include "simd_dispatch.h"
#include "steps.h"

namespace rnn::cpu {

// Wide vectors pass between always-inlined helpers only (activations_vec.h), so GCC's ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

template <int Level>
RNN_INLINE void rnnStepImpl(const StepArgs& a) {
  constexpr int L = simd::lanes(Level);
  using V = vec::Lanes<L>;
  const int H = a.hidden;
  const bool relu = a.kind == CellKind::RnnRelu;
  const float* __restrict bias = a.biasX;
  for (int b = 0; b < a.batch; ++b) {
    const float* __restrict x = a.xg + b * a.xgStride;
    const float* __restrict g = a.hg + b * a.hgStride;
    float* __restrict h = a.hNew + b * a.hStride;
    if (relu) {
      // pre < 0 rather than pre > 0 so that NaN passes through, as in PyTorch
      for (int j = 0; j < H; ++j) {
        const float pre = x[j] + g[j] + bias[j];
        h[j] = pre < 0.f ? 0.f : pre;
      }
    } else {
      int j = 0;
      for (; j + L <= H; j += L) V::store(h + j, V::tanh(V::load(x + j) + V::load(g + j) + V::load(bias + j)));
      for (; j < H; ++j) h[j] = vec::Lanes<1>::tanh(x[j] + g[j] + bias[j]);
    }
    if (a.saved) {
      float* s = a.saved + b * a.savedStride;
      for (int j = 0; j < H; ++j) s[j] = h[j];
    }
  }
}

RNN_DEFINE_DISPATCHED(rnnStep, rnnStepImpl)

}  // namespace rnn::cpu
