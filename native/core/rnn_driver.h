// The layer / direction driver shared by every cell and every backend: it owns the schedule
// (layers in order, directions, initial states, inter-layer buffers and dropout) and hands each
// layer-direction to the backend's recurrence, which projects the whole input sequence with one
// GEMM over all T*B rows and then runs the time loop (recurrent GEMM + fused step per step).
// Packed sequences shrink the active rows per step; rows that are done keep their last state,
// which is therefore h_n, and reverse-direction rows start from h0 when they first become active.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rnn_spec.h"

namespace rnn {

// One layer in one direction, as a backend's recurrence sees it.
struct LayerDirection {
  CellKind kind;
  const SeqLayout* layout;
  int inputSize, hiddenSize, outSize;  // outSize = projSize, or hiddenSize without projections
  bool reverse;
  const float* input;                  // layout.rows x inputSize
  LayerWeights weights;                // biases null when the module has none
  float* h;                            // [B, outSize]: initial state in, final state out
  float* c;                            // LSTM: [B, hiddenSize], likewise; else null
  float* output;                       // row r, this direction's columns at output + r * outputStride
  int64_t outputStride;
};

template <class Backend>
void rnnForward(Backend& be, const RnnSpec& spec, const RnnIo& io) {
  const SeqLayout layout = SeqLayout::of(spec);
  const std::vector<LayerWeights> weights = layerWeights(spec, io);
  const int B = spec.batch, H = spec.hiddenSize, P = spec.outSize(), D = spec.directions();
  const bool lstm = hasCellState(spec.kind);
  const int64_t layerOut = layout.rows * D * P;
  // Inter-layer outputs ping-pong between two buffers; the last layer writes the caller's output.
  const size_t bufSize = spec.numLayers > 1 ? size_t(layerOut) * (spec.numLayers > 2 ? 2 : 1) : 0;
  auto buffers = be.scratch(bufSize);  // backend memory (host or device), released when the call ends

  const float* in = io.input.data;
  int inSize = spec.inputSize;
  for (int l = 0; l < spec.numLayers; ++l) {
    const bool last = l == spec.numLayers - 1;
    float* out = last ? io.output.data : buffers.data() + (l % 2) * layerOut;
    for (int d = 0; d < D; ++d) {
      const int ld = l * D + d;
      float* h = io.hN.data + size_t(ld) * B * P;
      float* c = lstm ? io.cN.data + size_t(ld) * B * H : nullptr;
      if (io.h0.data) be.copy(h, io.h0.data + size_t(ld) * B * P, size_t(B) * P);
      else be.zero(h, size_t(B) * P);
      if (lstm) {
        if (io.c0.data) be.copy(c, io.c0.data + size_t(ld) * B * H, size_t(B) * H);
        else be.zero(c, size_t(B) * H);
      }
      be.recurrence(LayerDirection{spec.kind, &layout, inSize, H, P, d == 1, in, weights[ld], h, c,
                                   out + d * P, int64_t(D) * P});
    }
    if (!last && spec.training && spec.dropout > 0.f) be.dropout(out, size_t(layerOut), spec.dropout, spec.seed + l);
    in = out;
    inSize = D * P;
  }
}

}  // namespace rnn
