#include "int8_pack.h"

#include <cstring>
#include <sstream>

#include "simd_level.h"

namespace rnn::cpu {

Int8Family int8Family() {
  static const Int8Family family = int8Dot()    ? Int8Family::Vnni
                                   : avx512Bw() ? Int8Family::Avx512
                                   : simdLevel() >= 1 ? Int8Family::Avx2
                                                      : Int8Family::Base;
  return family;
}

int int8Units() { return int8Family() == Int8Family::Avx2 ? 8 : 16; }

int int8KStep() { return int8Family() == Int8Family::Vnni ? 4 : 2; }

void packInt8(int gates, int N, int K, const int8_t* values, const float* scales, uint8_t* out) {
  const Int8Header header{kInt8Magic, int(int8Family()), int8Units(), gates, N, K};
  std::memset(out, 0, kInt8HeaderBytes);
  std::memcpy(out, &header, sizeof header);
  const int U = int8Units(), steps = int8Steps(K), kStep = int8KStep(), groups = int8Groups(N);
  const bool vnni = int8Family() == Int8Family::Vnni;
  const size_t words = int8GroupWords(gates, K);
  uint32_t* group = reinterpret_cast<uint32_t*>(out + kInt8HeaderBytes);
  for (int q = 0; q < groups; ++q, group += words) {
    int32_t* corrections = reinterpret_cast<int32_t*>(group + size_t(steps) * gates * U);
    float* rowScales = reinterpret_cast<float*>(corrections + gates * U);
    for (int g = 0; g < gates; ++g) {
      for (int u = 0; u < U; ++u) {
        const int j = q * U + u, col = g * U + u;
        const int8_t* row = j < N ? values + (int64_t(g) * N + j) * K : nullptr;
        int32_t sum = 0;
        for (int p = 0; p < steps; ++p) {
          uint32_t word = 0;
          for (int i = 0; i < kStep && row; ++i) {
            const int k = p * kStep + i;
            if (k >= K) break;
            sum += row[k];
            // Vnni: byte i of the word; pairs: int16 i of the word (its bits, sign-extended from the byte)
            word |= vnni ? uint32_t(uint8_t(row[k])) << (8 * i) : uint32_t(uint16_t(int16_t(row[k]))) << (16 * i);
          }
          group[size_t(p) * gates * U + col] = word;
        }
        corrections[col] = vnni ? 128 * sum : 0;
        rowScales[col] = row ? scales[int64_t(g) * N + j] : 0.f;
      }
    }
  }
}

std::string int8PackedError(const uint8_t* packed, size_t bytes, int gates, int N, int K) {
  std::ostringstream out;
  if (K < 0 || K > kMaxInt8K) {
    out << "int8 matrix: " << K << " columns, at most " << kMaxInt8K << " fit the int32 sums";
    return out.str();
  }
  if (bytes < kInt8HeaderBytes) return "int8 matrix: not a packed matrix (too short)";
  if (reinterpret_cast<uintptr_t>(packed) % 4 != 0) return "int8 matrix: not aligned to 4 bytes";
  Int8Header h;
  std::memcpy(&h, packed, sizeof h);
  if (h.magic != kInt8Magic) return "int8 matrix: not a packed matrix";
  if (h.family != int(int8Family()) || h.units != int8Units()) return "int8 matrix: packed for another CPU kernel family";
  if (h.gates != gates || h.n != N || h.k != K) {
    out << "int8 matrix: packed as " << h.gates << " x " << h.n << " x " << h.k << ", expected " << gates << " x " << N << " x " << K;
    return out.str();
  }
  if (bytes != int8PackedBytes(gates, N, K)) {
    out << "int8 matrix: " << bytes << " bytes, expected " << int8PackedBytes(gates, N, K);
    return out.str();
  }
  return "";
}

Int8Matrix Int8Matrix::of(const uint8_t* packed) {
  Int8Header h;
  std::memcpy(&h, packed, sizeof h);
  return Int8Matrix{reinterpret_cast<const uint32_t*>(packed + kInt8HeaderBytes), int8GroupWords(h.gates, h.k), h.gates, h.n, h.k,
                    int8Steps(h.k)};
}

}  // namespace rnn::cpu
