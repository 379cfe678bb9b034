#include "packed_form.h"

#include <cstring>

namespace rnn::cpu {

namespace {

constexpr int32_t kVersion = 2;

struct Header {
  char magic[8];
  int32_t version, kind, I, P, H, units, simd;
  int64_t dataOffset;  // bytes from the start to the first piece (64-byte aligned when made)
  int64_t at[kPackedPieces];
  int64_t words;
};

}  // namespace

size_t packedFormBytes(const PackedLayout& layout) { return sizeof(Header) + 64 + size_t(layout.words) * 4; }

uint32_t* startPackedForm(const PackedIdentity& id, const PackedLayout& layout, uint8_t* out, size_t bytes) {
  Header h{};
  std::memcpy(h.magic, id.magic, sizeof h.magic);
  h.version = kVersion;
  h.kind = int32_t(id.kind);
  h.I = id.I, h.P = id.P, h.H = id.H, h.units = id.units, h.simd = id.simd;
  const uintptr_t first = reinterpret_cast<uintptr_t>(out) + sizeof(Header);
  h.dataOffset = int64_t(sizeof(Header) + (64 - first % 64) % 64);
  for (int i = 0; i < kPackedPieces; ++i) h.at[i] = layout.at[i];
  h.words = layout.words;
  std::memset(out, 0, bytes);
  std::memcpy(out, &h, sizeof h);
  return reinterpret_cast<uint32_t*>(out + h.dataOffset);
}

std::string packedFormError(const PackedIdentity& id, const PackedLayout& layout, const char* what, const uint8_t* data,
                            size_t bytes) {
  if (!data || bytes < sizeof(Header)) return "packed weights are too short to be a packed form";
  if (reinterpret_cast<uintptr_t>(data) % 4 != 0) return "packed weights are not aligned to 4 bytes";
  Header h;
  std::memcpy(&h, data, sizeof h);
  if (std::memcmp(h.magic, id.magic, sizeof h.magic) != 0 || h.version != kVersion) {
    return std::string("packed weights are not ") + what;
  }
  if (h.kind != int32_t(id.kind) || h.I != id.I || h.P != id.P || h.H != id.H) {
    return "packed weights were made for other sizes (kind " + std::to_string(h.kind) + ", input " + std::to_string(h.I) +
           ", hidden " + std::to_string(h.H) + ", out " + std::to_string(h.P) + ")";
  }
  if (h.units != id.units || h.simd != id.simd) return "packed weights were made for another SIMD level";
  bool same = h.words == layout.words;
  for (int i = 0; i < kPackedPieces; ++i) same = same && h.at[i] == layout.at[i];
  if (!same) return "packed weights have another layout than this build makes";
  if (h.dataOffset < int64_t(sizeof(Header)) || h.dataOffset >= int64_t(sizeof(Header)) + 64 || h.dataOffset % 4 != 0) {
    return "packed weights have a bad data offset";
  }
  if (size_t(h.dataOffset) + size_t(layout.words) * 4 > bytes) return "packed weights are truncated";
  return "";
}

void packedPieces(const uint8_t* data, const uint32_t* (&pieces)[kPackedPieces]) {
  Header h;
  std::memcpy(&h, data, sizeof h);
  const uint32_t* base = reinterpret_cast<const uint32_t*>(data + h.dataOffset);
  for (int i = 0; i < kPackedPieces; ++i) pieces[i] = h.at[i] < 0 ? nullptr : base + h.at[i];
}

}  // namespace rnn::cpu
