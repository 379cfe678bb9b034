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

// Every region above is rows x a width: the widths, in floats per row (0: the region is absent).
struct SavedWidths {
  size_t layerInput = 0;  // X_l, layers l > 0
  size_t gates = 0, hPrev = 0, cPrev = 0, hFull = 0;  // per layer-direction

  static SavedWidths of(const RnnSpec& spec) {
    SavedWidths w;
    const size_t H = size_t(spec.hiddenSize), P = size_t(spec.outSize());
    w.layerInput = size_t(spec.directions()) * P;
    w.gates = size_t(savedBlockCount(spec.kind)) * H;
    w.hPrev = P;
    w.cPrev = hasCellState(spec.kind) ? H : 0;
    w.hFull = spec.projSize > 0 ? H : 0;
    return w;
  }
  size_t direction() const { return gates + hPrev + cPrev + hFull; }
};

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
  const SavedWidths w = SavedWidths::of(spec);
  s.savedBlocks = savedBlockCount(spec.kind);
  s.layerInput.assign(spec.numLayers, 0);
  size_t at = 0;
  for (int l = 0; l < spec.numLayers; ++l) {
    if (l > 0) {
      s.layerInput[l] = at;
      at += rows * w.layerInput;
    }
    for (int d = 0; d < spec.directions(); ++d) {
      SavedDirection dir;
      dir.gates = at;
      at += rows * w.gates;
      dir.hPrev = at;
      at += rows * w.hPrev;
      if (w.cPrev > 0) {
        dir.cPrev = at;
        at += rows * w.cPrev;
      }
      if (w.hFull > 0) {
        dir.hFull = at;
        at += rows * w.hFull;
      }
      s.directions.push_back(dir);
    }
  }
  s.total = at;
  return s;
}

// SavedLayout::of(spec).total for `rows` rows, as a double: lib/'s memory limit asks it (rnnSavedSize) before
// anything exists, for sizes too large to run as well. Layer 0 reads the call's input; each later layer saves its
// own, and every layer-direction its regions.
inline double savedFloats(const RnnSpec& spec, double rows) {
  const SavedWidths w = SavedWidths::of(spec);
  const double layers = spec.numLayers;
  return rows * ((layers > 1 ? layers - 1 : 0) * double(w.layerInput) + layers * spec.directions() * double(w.direction()));
}

}  // namespace rnn
