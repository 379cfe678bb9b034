// CPU LSTM step (PyTorch gate order i, f, g, o):
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),  h' = sigmoid(o) * tanh(c')
#include "activations.h"
#include "simd_clones.h"
#include "steps.h"

namespace rnn::cpu {

RNN_INLINE void lstmStepImpl(const StepArgs& a) {
  const int H = a.hidden;
  for (int b = 0; b < a.batch; ++b) {
    const float* __restrict x = a.xg + b * a.xgStride;
    float* __restrict g = a.hg + b * a.hgStride;
    // pre-activations first: a plain add loop, so the activation loop below has simple accesses
    for (int j = 0; j < 4 * H; ++j) g[j] += x[j] + a.biasX[j];
    float* __restrict c = a.c + b * a.cStride;
    float* __restrict h = a.hNew + b * a.hStride;
    if (a.saved) {
      // saving for backward: activate into the saved row, then update the state from there
      float* __restrict s = a.saved + b * a.savedStride;
      const int64_t k = a.savedBlockStride;
      for (int j = 0; j < H; ++j) {
        s[j] = fastSigmoid(g[j]);
        s[k + j] = fastSigmoid(g[H + j]);
        s[2 * k + j] = fastTanh(g[2 * H + j]);
        s[3 * k + j] = fastSigmoid(g[3 * H + j]);
      }
      for (int j = 0; j < H; ++j) {
        const float cNew = s[k + j] * c[j] + s[j] * s[2 * k + j];
        c[j] = cNew;
        h[j] = s[3 * k + j] * fastTanh(cNew);
      }
      continue;
    }
    for (int j = 0; j < H; ++j) {
      const float i = fastSigmoid(g[j]);
      const float f = fastSigmoid(g[H + j]);
      const float cell = fastTanh(g[2 * H + j]);
      const float o = fastSigmoid(g[3 * H + j]);
      const float cNew = f * c[j] + i * cell;
      c[j] = cNew;
      h[j] = o * fastTanh(cNew);
    }
  }
}

RNN_DEFINE_DISPATCHED(lstmStep, lstmStepImpl)

}  // namespace rnn::cpu
