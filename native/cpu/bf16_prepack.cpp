#include "bf16_prepack.h"

#include <vector>

#include "bf16_convert.h"
#include "bf16_step.h"
#include "packed_form.h"
#include "recurrence_scratch.h"
#include "simd_level.h"

namespace rnn::cpu {

namespace {

enum Piece { kBias, kHidden, kInput, kFused, kHr };

PackedIdentity identity(CellKind kind, int I, int P, int H) {
  return PackedIdentity{"nrnnB16P", kind, I, P, H, bf16Units(), simdLevel()};
}

// Every layout bf16_forward.cpp may pick for these sizes: W_hh alone with the projection of all steps before the
// loop (W_ih alone), or both in the step's panels.
PackedLayout layoutOf(CellKind kind, int I, int P, int H, bool proj) {
  const int G = gateCount(kind);
  const int64_t groups = bf16Groups(H);
  PackedLayout l;
  l.at[kBias] = l.add(groups * int64_t(bf16BiasFloats(G)));
  l.at[kHidden] = l.add(groups * int64_t(bf16PanelWords(G, 0, P)));
  l.at[kInput] = l.add(groups * int64_t(bf16PanelWords(G, I, 0)));
  if (bf16FusedPanelsFit(G, I, P, H)) l.at[kFused] = l.add(groups * int64_t(bf16PanelWords(G, I, P)));
  if (proj) l.at[kHr] = l.add(int64_t(bf16Groups(P)) * int64_t(bf16PanelWords(1, H, 0)));
  return l;
}

}  // namespace

size_t bf16PrepackedBytes(CellKind kind, int I, int P, int H, bool proj) {
  return packedFormBytes(layoutOf(kind, I, P, H, proj));
}

void prepackBf16(CellKind kind, int I, int P, int H, const uint16_t* wIh, const uint16_t* wHh, const uint16_t* bIh,
                 const uint16_t* bHh, const uint16_t* wHr, uint8_t* out, size_t bytes) {
  const PackedLayout l = layoutOf(kind, I, P, H, wHr != nullptr);
  uint32_t* data = startPackedForm(identity(kind, I, P, H), l, out, bytes);
  const int G = gateCount(kind), GH = G * H, groups = bf16Groups(H);
  std::vector<float> bias(size_t(GH) + H);
  sumBiases(kind, bIh, bHh, H, bias.data(), bias.data() + GH, bf16ToFloat);
  packBf16Bias(G, bias.data(), bias.data() + GH, H, 0, groups, reinterpret_cast<float*>(data + l.at[kBias]));
  packBf16Panels(G, nullptr, 0, wHh, P, H, 0, groups, data + l.at[kHidden]);
  packBf16Panels(G, wIh, I, nullptr, 0, H, 0, groups, data + l.at[kInput]);
  if (l.at[kFused] >= 0) packBf16Panels(G, wIh, I, wHh, P, H, 0, groups, data + l.at[kFused]);
  if (wHr) packBf16Panels(1, wHr, H, nullptr, 0, P, 0, bf16Groups(P), data + l.at[kHr]);
}

std::string bf16PrepackedError(CellKind kind, int I, int P, int H, bool proj, const uint8_t* data, size_t bytes) {
  if (kind != CellKind::Lstm && kind != CellKind::Gru) return "packed weights are for LSTM and GRU only";
  return packedFormError(identity(kind, I, P, H), layoutOf(kind, I, P, H, proj), "a bfloat16 packed form", data, bytes);
}

Bf16PrepackedView bf16PrepackedView(const uint8_t* data) {
  const uint32_t* p[kPackedPieces];
  packedPieces(data, p);
  return Bf16PrepackedView{reinterpret_cast<const float*>(p[kBias]), p[kHidden], p[kInput], p[kFused], p[kHr]};
}

}  // namespace rnn::cpu
