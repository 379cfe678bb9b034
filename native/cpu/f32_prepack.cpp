#include "f32_prepack.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "packed_step.h"
#include "recurrence_scratch.h"
#include "simd_level.h"

namespace rnn::cpu {

namespace {

constexpr char kMagic[8] = {'n', 'r', 'n', 'n', 'F', '3', '2', 'P'};
constexpr int32_t kVersion = 1;

// What a packed form starts with; every field is checked against the call before any offset is used.
struct Header {
  char magic[8];
  int32_t version, kind, I, P, H, units, simd;
  int64_t dataOffset;                          // bytes from the start to the first piece (64-byte aligned when made)
  int64_t biasAt, hiddenAt, inputAt, fusedAt;  // floats from dataOffset; -1 when the layout is not held
  int64_t floats;                              // floats from dataOffset on
};

struct Layout {
  int64_t biasAt = 0, hiddenAt = -1, inputAt = -1, fusedAt = -1, floats = 0;
};

// Where each piece goes for these sizes in this process's SIMD level; pieces start on 64-byte lines.
Layout layoutOf(CellKind kind, int I, int P, int H) {
  const int64_t groups = packedGroups(H);
  Layout l;
  auto add = [&](int64_t n) {
    const int64_t at = l.floats;
    l.floats += (n + 15) / 16 * 16;
    return at;
  };
  l.biasAt = add(groups * int64_t(packedBiasFloats()));
  l.hiddenAt = add(groups * int64_t(panelFloats(kind, 0, P)));
  // the packed input projection runs at AVX-512 only (cpu_backend.cpp: ownProjection)
  if (simdLevel() == 2) l.inputAt = add(groups * int64_t(panelFloats(kind, I, 0)));
  if (fusedPanelsFit(gateCount(kind), I, P, H)) l.fusedAt = add(groups * int64_t(panelFloats(kind, I, P)));
  return l;
}

}  // namespace

size_t prepackedBytes(CellKind kind, int I, int P, int H) {
  return sizeof(Header) + 64 + size_t(layoutOf(kind, I, P, H).floats) * sizeof(float);
}

void prepackF32(CellKind kind, int I, int P, int H, const float* wIh, const float* wHh, const float* bIh,
                const float* bHh, uint8_t* out, size_t bytes) {
  const Layout l = layoutOf(kind, I, P, H);
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.kind = int32_t(kind);
  h.I = I, h.P = P, h.H = H, h.units = packedUnits(), h.simd = simdLevel();
  const uintptr_t first = reinterpret_cast<uintptr_t>(out) + sizeof(Header);
  h.dataOffset = int64_t(sizeof(Header) + (64 - first % 64) % 64);
  h.biasAt = l.biasAt, h.hiddenAt = l.hiddenAt, h.inputAt = l.inputAt, h.fusedAt = l.fusedAt, h.floats = l.floats;
  std::memset(out, 0, bytes);
  std::memcpy(out, &h, sizeof h);

  const int G = gateCount(kind), GH = G * H, groups = packedGroups(H);
  std::vector<float> bias(size_t(GH) + H);
  sumBiases(kind, bIh, bHh, H, bias.data(), bias.data() + GH);
  float* data = reinterpret_cast<float*>(out + h.dataOffset);
  float* packedBias = data + l.biasAt;
  packPanels(kind, nullptr, 0, wHh, P, bias.data(), bias.data() + GH, H, 0, groups, data + l.hiddenAt, packedBias);
  if (l.inputAt >= 0) packInputPanels(kind, wIh, I, H, 0, groups, data + l.inputAt);
  if (l.fusedAt >= 0) packPanels(kind, wIh, I, wHh, P, bias.data(), bias.data() + GH, H, 0, groups, data + l.fusedAt, packedBias);
}

std::string prepackedError(CellKind kind, int I, int P, int H, const uint8_t* data, size_t bytes) {
  if (kind != CellKind::Lstm && kind != CellKind::Gru) return "packed weights are for LSTM and GRU only";
  if (!data || bytes < sizeof(Header)) return "packed weights are too short to be a packed form";
  if (reinterpret_cast<uintptr_t>(data) % alignof(float) != 0) return "packed weights are not aligned to 4 bytes";
  Header h;
  std::memcpy(&h, data, sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.version != kVersion) return "packed weights are not a float32 packed form";
  if (h.kind != int32_t(kind) || h.I != I || h.P != P || h.H != H) {
    return "packed weights were made for other sizes (kind " + std::to_string(h.kind) + ", input " + std::to_string(h.I) +
           ", hidden " + std::to_string(h.H) + ", out " + std::to_string(h.P) + ")";
  }
  if (h.units != packedUnits() || h.simd != simdLevel()) return "packed weights were made for another SIMD level";
  const Layout l = layoutOf(kind, I, P, H);
  if (h.biasAt != l.biasAt || h.hiddenAt != l.hiddenAt || h.inputAt != l.inputAt || h.fusedAt != l.fusedAt || h.floats != l.floats) {
    return "packed weights have another layout than this build makes";
  }
  if (h.dataOffset < int64_t(sizeof(Header)) || h.dataOffset >= int64_t(sizeof(Header)) + 64 || h.dataOffset % 4 != 0) {
    return "packed weights have a bad data offset";
  }
  if (size_t(h.dataOffset) + size_t(l.floats) * sizeof(float) > bytes) return "packed weights are truncated";
  return "";
}

PrepackedView prepackedView(const uint8_t* data) {
  Header h;
  std::memcpy(&h, data, sizeof h);
  const float* base = reinterpret_cast<const float*>(data + h.dataOffset);
  auto at = [&](int64_t offset) { return offset < 0 ? nullptr : base + offset; };
  return PrepackedView{at(h.biasAt), at(h.hiddenAt), at(h.inputAt), at(h.fusedAt)};
}

}  // namespace rnn::cpu
