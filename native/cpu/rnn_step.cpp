// CPU Elman RNN step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu.
#include "activations.h"
#include "simd_clones.h"
#include "steps.h"

namespace rnn::cpu {

RNN_SIMD_CLONES
void rnnStep(const StepArgs& a) {
  const int H = a.hidden;
  const bool relu = a.kind == CellKind::RnnRelu;
  for (int b = 0; b < a.batch; ++b) {
    const float* __restrict x = a.xg + b * a.xgStride;
    const float* __restrict g = a.hg + b * H;
    float* __restrict h = a.hNew + b * H;
    for (int j = 0; j < H; ++j) {
      const float pre = x[j] + g[j] + (a.biasX ? a.biasX[j] : 0.f);
      // relu keeps NaN (pre > 0 is false for NaN, so test the negation)
      h[j] = relu ? (pre < 0.f ? 0.f : pre) : fastTanh(pre);
    }
  }
}

}  // namespace rnn::cpu
