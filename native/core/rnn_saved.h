// What a forward pass saves for backward, and where, in one float workspace:
//   per layer l > 0:        X_l [rows, D*P], the layer's input as it was consumed (after dropout)
//   per layer-direction:    gates [rows, S*H] with S blocks per row (LSTM: i, f, g, o activated;
//                           GRU: r, z, n and hn = W_hn h + b_hn; RNN: h' itself),
//                           hPrev [rows, P] (the state each row's step started from),
//                           cPrev [rows, H] (LSTM), hFull [rows, H] (LSTM with projections: h before W_hr).
// Rows use the call's own layout (see SeqLayout), so backward reads them exactly as forward wrote them.
#pragma once
#include <cstddef>
#include <vector>

#include "rnn_spec.h"

namespace rnn {

inline int savedBlockCount(CellKind kind) { return kind == CellKind::Lstm || kind == CellKind::Gru ? 4 : 1; }

struct SavedDirection {
  size_t gates = 0, hPrev = 0, cPrev = 0, hFull = 0;  // offsets in floats
};

struct SavedLayout {
  std::vector<size_t> layerInput;      // offset of X_l (index 0 unused: layer 0 reads the call's input)
  std::vector<SavedDirection> directions;  // per layer-direction, l * D + d
  size_t total = 0;
  int savedBlocks = 0;                 // S

  static SavedLayout of(const RnnSpec& spec);
};

inline SavedLayout SavedLayout::of(const RnnSpec& spec) {
  SavedLayout s;
  const size_t rows = size_t(SeqLayout::of(spec).rows);
  const size_t H = spec.hiddenSize, P = spec.outSize(), D = spec.directions();
  s.savedBlocks = savedBlockCount(spec.kind);
  s.layerInput.assign(spec.numLayers, 0);
  size_t at = 0;
  for (int l = 0; l < spec.numLayers; ++l) {
    if (l > 0) {
      s.layerInput[l] = at;
      at += rows * D * P;
    }
    for (size_t d = 0; d < D; ++d) {
      SavedDirection dir;
      dir.gates = at;
      at += rows * s.savedBlocks * H;
      dir.hPrev = at;
      at += rows * P;
      if (hasCellState(spec.kind)) {
        dir.cPrev = at;
        at += rows * H;
      }
      if (spec.projSize > 0) {
        dir.hFull = at;
        at += rows * H;
      }
      s.directions.push_back(dir);
    }
  }
  s.total = at;
  return s;
}

}  // namespace rnn
