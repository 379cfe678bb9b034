// Backward through time for a whole stack, shared by every backend: layers from the top down, each
// direction's reverse time loop in the backend, dropout masks re-applied to the gradient between layers.
// Reads what the forward saved (rnn_saved.h); gradients of the weights are accumulated (+=), the others written.
#pragma once
#include <cstddef>
#include <vector>

#include "rnn_driver.h"
#include "rnn_saved.h"

namespace rnn {

struct RnnGradIo {
  FloatSpan gradOutput, gradHN, gradCN;  // upstream gradients (size 0: zeros)
  FloatSpan gradInput;                   // rows x inputSize, written (size 0: not wanted, dX is skipped)
  FloatSpan gradH0, gradC0;              // written when given
  std::vector<FloatSpan> gradWeights;    // like RnnIo::weights, accumulated
};

struct WeightGrads {
  float *wIh = nullptr, *wHh = nullptr, *bIh = nullptr, *bHh = nullptr, *wHr = nullptr;
};

// One layer in one direction, as a backend's reverse loop sees it.
struct LayerDirectionGrad {
  CellKind kind;
  const SeqLayout* layout;
  int inputSize, hiddenSize, outSize;
  bool reverse;
  const float* input;            // what the layer consumed, rows x inputSize
  LayerWeights weights;
  SavedPointers saved;
  const float* gradOutput;       // this direction's columns, row r at gradOutput + r * gradOutputStride (null: zeros)
  int64_t gradOutputStride;
  const float* gradHN;           // [B, P] or null
  const float* gradCN;           // [B, H] or null
  float* gradH0;                 // [B, P] or null
  float* gradC0;                 // [B, H] or null
  float* gradInput;              // rows x inputSize (null: not wanted)
  bool accumulateInput;          // the second direction adds to the first's
  WeightGrads grads;
};

std::string validateGrad(const RnnSpec& spec, const RnnIo& io, const RnnGradIo& g);

template <class Backend>
void rnnBackward(Backend& be, const RnnSpec& spec, const RnnIo& io, const RnnGradIo& g) {
  const SeqLayout layout = SeqLayout::of(spec);
  const SavedLayout savedLayout = SavedLayout::of(spec);
  const std::vector<LayerWeights> weights = layerWeights(spec, io);
  const int B = spec.batch, H = spec.hiddenSize, P = spec.outSize(), D = spec.directions();
  const bool lstm = hasCellState(spec.kind);
  const size_t layerOut = size_t(layout.rows) * D * P;
  // gradient w.r.t. the output of the layer below, filled by the layer above
  auto below = be.scratch(spec.numLayers > 1 ? 2 * layerOut : 0);
  float* saved = io.saved.data;

  const float* gradOut = g.gradOutput.data;
  for (int l = spec.numLayers - 1; l >= 0; --l) {
    const float* in = l == 0 ? io.input.data : saved + savedLayout.layerInput[l];
    const int inSize = spec.layerInputSize(l);
    float* gradIn = l == 0 ? g.gradInput.data : below.data() + (l % 2) * layerOut;
    for (int d = 0; d < D; ++d) {
      const int ld = l * D + d;
      const SavedDirection& at = savedLayout.directions[ld];
      SavedPointers keep{saved + at.gates, saved + at.hPrev, lstm ? saved + at.cPrev : nullptr,
                         spec.projSize > 0 ? saved + at.hFull : nullptr, savedLayout.savedBlocks};
      const size_t w = size_t(ld) * weightsPerLayerDirection(spec);
      WeightGrads grads;
      grads.wIh = g.gradWeights[w].data;
      grads.wHh = g.gradWeights[w + 1].data;
      if (spec.bias) {
        grads.bIh = g.gradWeights[w + 2].data;
        grads.bHh = g.gradWeights[w + 3].data;
      }
      if (spec.projSize > 0) grads.wHr = g.gradWeights[w + (spec.bias ? 4 : 2)].data;
      auto slice = [&](const FloatSpan& s, size_t width) { return s.data ? s.data + size_t(ld) * B * width : nullptr; };
      be.recurrenceBackward(LayerDirectionGrad{
          spec.kind, &layout, inSize, H, P, d == 1, in, weights[ld], keep,
          gradOut ? gradOut + d * P : nullptr, int64_t(D) * P,
          slice(g.gradHN, P), lstm ? slice(g.gradCN, H) : nullptr,
          slice(g.gradH0, P), lstm ? slice(g.gradC0, H) : nullptr,
          gradIn, d > 0, grads});
    }
    // the layer below produced `in` through dropout: its gradient goes back through the same mask
    if (l > 0 && spec.training && spec.dropout > 0.f) be.dropout(gradIn, layerOut, spec.dropout, spec.seed + l - 1);
    gradOut = gradIn;
  }
}

}  // namespace rnn
