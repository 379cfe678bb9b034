// The four recurrent cells as data: how many gate blocks each has. Everything else about a cell
// (activations, how the new state is formed) lives in the backend's fused step for that kind.
#pragma once

namespace rnn {

enum class CellKind : int { RnnTanh = 0, RnnRelu = 1, Lstm = 2, Gru = 3 };

inline int gateCount(CellKind kind) {
  switch (kind) {
    case CellKind::Lstm: return 4;  // i, f, g, o (PyTorch order)
    case CellKind::Gru: return 3;   // r, z, n
    default: return 1;
  }
}

inline bool hasCellState(CellKind kind) { return kind == CellKind::Lstm; }

}  // namespace rnn
