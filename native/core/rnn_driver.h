// The layer / direction driver shared by every cell and every backend: it owns the schedule
// (layers in order, directions, initial states, inter-layer buffers and dropout) and hands each
// layer-direction to the backend's recurrence, which projects the whole input sequence with one
// GEMM over all T*B rows and then runs the time loop (recurrent GEMM + fused step per step).
// Packed sequences shrink the active rows per step; rows that are done keep their last state,
// which is therefore h_n, and reverse-direction rows start from h0 when they first become active.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rnn_saved.h"
#include "rnn_spec.h"

namespace rnn {

// Where one layer-direction saves what backward needs (all null when nothing is saved).
struct SavedPointers {
  float* gates = nullptr;  // [rows, blocks * H]
  float* hPrev = nullptr;  // [rows, P]
  float* cPrev = nullptr;  // [rows, H] (LSTM)
  float* hFull = nullptr;  // [rows, H] (LSTM with projections)
  int blocks = 0;
};

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
  SavedPointers saved;
};

template <class Backend>
void rnnForward(Backend& be, const RnnSpec& spec, const RnnIo& io) {
  const SeqLayout layout = SeqLayout::of(spec);
  const std::vector<LayerWeights> weights = layerWeights(spec, io);
  const int B = spec.batch, H = spec.hiddenSize, P = spec.outSize(), D = spec.directions();
  const bool lstm = hasCellState(spec.kind);
  const int64_t layerOut = layout.rows * D * P;
  // Inter-layer outputs ping-pong between two buffers; the last layer writes the caller's output. When
  // saving for backward, layer l writes straight into the saved input of layer l + 1 instead.
  float* saved = io.saved.data;
  const SavedLayout savedLayout = saved ? SavedLayout::of(spec) : SavedLayout{};
  const size_t bufSize = spec.numLayers > 1 && !saved ? size_t(layerOut) * (spec.numLayers > 2 ? 2 : 1) : 0;
  auto buffers = be.scratch(bufSize);  // backend memory (host or device), released when the call ends

  const float* in = io.input.data;
  int inSize = spec.inputSize;
  for (int l = 0; l < spec.numLayers; ++l) {
    const bool last = l == spec.numLayers - 1;
    float* out = last ? io.output.data
                 : saved  ? saved + savedLayout.layerInput[l + 1]
                          : buffers.data() + (l % 2) * layerOut;
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
      SavedPointers keep;
      if (saved) {
        const SavedDirection& at = savedLayout.directions[ld];
        keep = {saved + at.gates, saved + at.hPrev, lstm ? saved + at.cPrev : nullptr,
                spec.projSize > 0 ? saved + at.hFull : nullptr, savedLayout.savedBlocks};
      }
      be.recurrence(LayerDirection{spec.kind, &layout, inSize, H, P, d == 1, in, weights[ld], h, c,
                                   out + d * P, int64_t(D) * P, keep});
    }
    if (!last && spec.training && spec.dropout > 0.f) be.dropout(out, size_t(layerOut), spec.dropout, spec.seed + l);
    in = out;
    inSize = D * P;
  }
}

}  // namespace rnn
