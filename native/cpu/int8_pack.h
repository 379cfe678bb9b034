// int8 weights packed for this CPU's kernels (quantizeDynamic packs them once: a quantized module's weights are
// frozen), and the layout of quantized activation rows. One family of kernels per CPU (simd_level.h):
//  - Vnni (AVX512_VNNI): VPDPBUSD multiplies unsigned by signed bytes and adds 4 products per int32 lane. A panel
//    word holds 4 consecutive k of one unit's weights (int8); activations are stored as uint8 = q + 128, and the
//    128 * sum_k W[j, k] the offset adds is subtracted once per tile (the group's "corrections").
//  - Avx512 (AVX512BW without VNNI), Avx2, Base: VPMADDWD-style pairs. A panel word holds 2 consecutive k of one
//    unit's weights as int16; activations are int16. Corrections are 0.
// Either way a word covers kStep k, a k-step's words are G gates x U units, and an activation row is steps * 4 bytes,
// so the integer sums (int32, exact for K <= kMaxInt8K) are the same in every family: levels agree bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rnn::cpu {

enum class Int8Family : int { Base = 0, Avx2 = 1, Avx512 = 2, Vnni = 3 };

Int8Family int8Family();
// Units per group: 8 with AVX2, else 16.
int int8Units();
constexpr int kInt8MaxUnits = 16;
// k per panel word: 4 int8 (Vnni) or 2 int16.
int int8KStep();
inline int int8Steps(int K) { return (K + int8KStep() - 1) / int8KStep(); }
inline int int8Groups(int N) { return (N + int8Units() - 1) / int8Units(); }
// Bytes of one quantized activation row of K columns (padding included: Vnni 128, pairs 0).
inline int64_t int8RowBytes(int K) { return int64_t(int8Steps(K)) * 4; }
// The longest dot product whose int32 sum cannot overflow: 65536 x 127 x 128 (x 255 / 127 with Vnni's offset) < 2^31.
constexpr int kMaxInt8K = 65536;

// A packed matrix W [G N, K] (PyTorch's [out, in] with G gate blocks of N rows): a 64-byte header, then per group
// of U units: the panel (steps x G x U words), G x U int32 corrections, G x U float32 row scales (0 past N).
constexpr uint32_t kInt8Magic = 0x38494e52;  // "RNI8"
constexpr size_t kInt8HeaderBytes = 64;
struct Int8Header {
  uint32_t magic;
  int32_t family, units, gates, n, k;
};

inline size_t int8GroupWords(int gates, int K) { return (size_t(int8Steps(K)) + 2) * gates * int8Units(); }
inline size_t int8PackedBytes(int gates, int N, int K) {
  return kInt8HeaderBytes + size_t(int8Groups(N)) * int8GroupWords(gates, K) * 4;
}

// Packs values (int8, row-major [G N, K]) and their per-row scales into out (int8PackedBytes(G, N, K) bytes).
void packInt8(int gates, int N, int K, const int8_t* values, const float* scales, uint8_t* out);

// "" when `bytes` bytes at `packed` hold a matrix of this shape packed for this CPU's family, else what differs.
std::string int8PackedError(const uint8_t* packed, size_t bytes, int gates, int N, int K);

// A packed matrix's groups (after the header), for the kernels.
struct Int8Matrix {
  const uint32_t* groups;
  size_t groupWords;
  int gates, N, K, steps;
  static Int8Matrix of(const uint8_t* packed);
  const uint32_t* panel(int q) const { return groups + q * groupWords; }
  const int32_t* corrections(int q) const {
    return reinterpret_cast<const int32_t*>(panel(q) + size_t(steps) * gates * int8Units());
  }
  const float* scales(int q) const {
    return reinterpret_cast<const float*>(corrections(q) + size_t(gates) * int8Units());
  }
};

}  // namespace rnn::cpu
