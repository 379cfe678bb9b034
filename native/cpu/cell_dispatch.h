// Compile-time cell and gate-count dispatch shared by the bfloat16 and int8 kernels: each picks a kernel
// instantiated per cell (Fn<cell>::run) or per gate count (Fn<gates>::run) from the call's runtime kind. Always
// inlined, so that it and the kernels it picks are compiled for the level of the entry that calls it.
#pragma once

#include "../core/cell_kind.h"
#include "activations.h"

namespace rnn::cpu::cell_dispatch {

enum Cell : int { kTanh = 0, kRelu = 1, kLstm = 2, kGru = 3 };

constexpr int gatesOf(int cell) { return cell == kLstm ? 4 : cell == kGru ? 3 : 1; }

template <template <int> class Fn, class Args>
RNN_INLINE void forCell(CellKind kind, const Args& a) {
  switch (kind) {
    case CellKind::Lstm: return Fn<kLstm>::run(a);
    case CellKind::Gru: return Fn<kGru>::run(a);
    case CellKind::RnnRelu: return Fn<kRelu>::run(a);
    default: return Fn<kTanh>::run(a);
  }
}

template <template <int> class Fn, class Args>
RNN_INLINE void forGates(int gates, const Args& a) {
  switch (gates) {
    case 4: return Fn<4>::run(a);
    case 3: return Fn<3>::run(a);
    default: return Fn<1>::run(a);
  }
}

}  // namespace rnn::cpu::cell_dispatch
