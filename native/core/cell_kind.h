// The four recurrent cells as data: how many gate blocks each has. Everything else about a cell
// (activations, how the new state is formed) lives in the backend's fused step for that kind.
#pragma once

// Usable from CUDA kernels as well as host code.
#if defined(__CUDACC__)
#define RNN_HOST_DEVICE __host__ __device__
#else
#define RNN_HOST_DEVICE
#endif

namespace rnn {

enum class CellKind : int { RnnTanh = 0, RnnRelu = 1, Lstm = 2, Gru = 3 };

RNN_HOST_DEVICE inline int gateCount(CellKind kind) {
  switch (kind) {
    case CellKind::Lstm: return 4;  // i, f, g, o (PyTorch order)
    case CellKind::Gru: return 3;   // r, z, n
    default: return 1;
  }
}

RNN_HOST_DEVICE inline bool hasCellState(CellKind kind) { return kind == CellKind::Lstm; }

}  // namespace rnn
