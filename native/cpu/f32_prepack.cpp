#include "f32_prepack.h"

#include <vector>

#include "packed_form.h"
#include "packed_step.h"
#include "recurrence_scratch.h"
#include "simd_level.h"

namespace rnn::cpu {

namespace {

enum Piece { kBias, kHidden, kInput, kFused };

PackedIdentity identity(CellKind kind, int I, int P, int H) {
  return PackedIdentity{"nrnnF32P", kind, I, P, H, packedUnits(), simdLevel()};
}

// Where each piece goes for these sizes in this process's SIMD level (a float is one 4-byte word).
PackedLayout layoutOf(CellKind kind, int I, int P, int H) {
  const int64_t groups = packedGroups(H);
  PackedLayout l;
  l.at[kBias] = l.add(groups * int64_t(packedBiasFloats()));
  l.at[kHidden] = l.add(groups * int64_t(panelFloats(kind, 0, P)));
  // the packed input projection runs at AVX-512 only (cpu_backend.cpp: ownProjection)
  if (simdLevel() == 2) l.at[kInput] = l.add(groups * int64_t(panelFloats(kind, I, 0)));
  if (fusedPanelsFit(gateCount(kind), I, P, H)) l.at[kFused] = l.add(groups * int64_t(panelFloats(kind, I, P)));
  return l;
}

}  // namespace

size_t prepackedBytes(CellKind kind, int I, int P, int H) { return packedFormBytes(layoutOf(kind, I, P, H)); }

void prepackF32(CellKind kind, int I, int P, int H, const float* wIh, const float* wHh, const float* bIh,
                const float* bHh, uint8_t* out, size_t bytes) {
  const PackedLayout l = layoutOf(kind, I, P, H);
  float* data = reinterpret_cast<float*>(startPackedForm(identity(kind, I, P, H), l, out, bytes));
  const int G = gateCount(kind), GH = G * H, groups = packedGroups(H);
  std::vector<float> bias(size_t(GH) + H);
  sumBiases(kind, bIh, bHh, H, bias.data(), bias.data() + GH);
  float* packedBias = data + l.at[kBias];
  packPanels(kind, nullptr, 0, wHh, P, bias.data(), bias.data() + GH, H, 0, groups, data + l.at[kHidden], packedBias);
  if (l.at[kInput] >= 0) packInputPanels(kind, wIh, I, H, 0, groups, data + l.at[kInput]);
  if (l.at[kFused] >= 0) {
    packPanels(kind, wIh, I, wHh, P, bias.data(), bias.data() + GH, H, 0, groups, data + l.at[kFused], packedBias);
  }
}

std::string prepackedError(CellKind kind, int I, int P, int H, const uint8_t* data, size_t bytes) {
  if (kind != CellKind::Lstm && kind != CellKind::Gru) return "packed weights are for LSTM and GRU only";
  return packedFormError(identity(kind, I, P, H), layoutOf(kind, I, P, H), "a float32 packed form", data, bytes);
}

PrepackedView prepackedView(const uint8_t* data) {
  const uint32_t* p[kPackedPieces];
  packedPieces(data, p);
  auto f = [](const uint32_t* w) { return reinterpret_cast<const float*>(w); };
  return PrepackedView{f(p[kBias]), f(p[kHidden]), f(p[kInput]), f(p[kFused])};
}

}  // namespace rnn::cpu
