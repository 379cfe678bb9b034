// bfloat16 LSTM / GRU weights packed once (optimizeForInference with dtype 'bfloat16'): the bfloat16 forward packs
// its weights into the pair panels of bf16_step.h on every call (W_ih for the projection of all steps, W_hh, W_hr,
// and both together when the input projection runs in the step); a module made for inference brings them made.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/cell_kind.h"

namespace rnn::cpu {

// Whether the bfloat16 fused panels (W_ih and W_hh together) stay in cache between steps: the float32 rule
// (f32_prepack.h) at 2 bytes a weight.
inline bool bf16FusedPanelsFit(int G, int I, int P, int H) { return int64_t(G) * H * (I + P) * 2 <= (8 << 20); }

// One layer-direction's packed weights as bf16_forward.cpp reads them (null: not held).
struct Bf16PrepackedView {
  const float* bias = nullptr;       // bf16BiasFloats(G) per group
  const uint32_t* hidden = nullptr;  // W_hh: bf16PanelWords(G, 0, P) per group
  const uint32_t* input = nullptr;   // W_ih: bf16PanelWords(G, I, 0) per group
  const uint32_t* fused = nullptr;   // W_ih and W_hh: bf16PanelWords(G, I, P) per group, when bf16FusedPanelsFit
  const uint32_t* hr = nullptr;      // W_hr (LSTM with projections): bf16PanelWords(1, H, 0) per group of P
};

// Bytes of one layer-direction's packed form; proj: the LSTM has W_hr [P, H].
size_t bf16PrepackedBytes(CellKind kind, int I, int P, int H, bool proj);

// Packs bfloat16 bits W_ih [G H, I], W_hh [G H, P], the biases (null without bias) and W_hr (null without
// projections) into out (bf16PrepackedBytes bytes).
void prepackBf16(CellKind kind, int I, int P, int H, const uint16_t* wIh, const uint16_t* wHh, const uint16_t* bIh,
                 const uint16_t* bHh, const uint16_t* wHr, uint8_t* out, size_t bytes);

// "" when the bytes are a bfloat16 packed form this process made for these sizes; else what is wrong.
std::string bf16PrepackedError(CellKind kind, int I, int P, int H, bool proj, const uint8_t* data, size_t bytes);

Bf16PrepackedView bf16PrepackedView(const uint8_t* data);

}  // namespace rnn::cpu
