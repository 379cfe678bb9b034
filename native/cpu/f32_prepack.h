// float32 LSTM / GRU weights packed once (optimizeForInference): a call normally packs W_ih and W_hh into the step
// kernel's panels (packed_step.h) every time, which at batch 1 costs about a tenth of a 100-step call (measured:
// 0.046-0.067 of 0.62 ms at LSTM 256). A module made for inference has weights that cannot change, so its panels
// are made here once, in every layout a call may use, and the recurrence reads them instead of packing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/cell_kind.h"

namespace rnn::cpu {

// Whether the fused panels (W_ih and W_hh together, the input projection inside each step) are worth using for
// batch >= 4: they must stay in cache between steps.
inline bool fusedPanelsFit(int G, int I, int P, int H) { return int64_t(G) * H * (I + P) * sizeof(float) <= (8 << 20); }

// One layer-direction's packed weights, as the recurrence reads them (null: that layout is not held).
struct PrepackedView {
  const float* bias = nullptr;    // packedBiasFloats() per group
  const float* hidden = nullptr;  // W_hh only: panelFloats(kind, 0, P) per group
  const float* input = nullptr;   // W_ih only (the AVX-512 input projection): panelFloats(kind, I, 0) per group
  const float* fused = nullptr;   // W_ih and W_hh: panelFloats(kind, I, P) per group, when fusedPanelsFit
};

// Bytes of the packed form of one layer-direction (header included).
size_t prepackedBytes(CellKind kind, int I, int P, int H);

// Packs W_ih [G H, I], W_hh [G H, P] and the biases (null without bias) into out (prepackedBytes bytes).
void prepackF32(CellKind kind, int I, int P, int H, const float* wIh, const float* wHh, const float* bIh,
                const float* bHh, uint8_t* out, size_t bytes);

// "" when `bytes` bytes at `data` are a packed form made by prepackF32 in this process's SIMD level for these sizes;
// else what is wrong (the recurrence trusts every offset only after this check).
std::string prepackedError(CellKind kind, int I, int P, int H, const uint8_t* data, size_t bytes);

// The view of a checked packed form.
PrepackedView prepackedView(const uint8_t* data);

}  // namespace rnn::cpu
