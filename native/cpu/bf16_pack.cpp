// Packing bfloat16 weights into the pair panels of bf16_step.h, and whole-array conversions. A row's pairs of k
// are already adjacent 32-bit words in PyTorch's [out, in] layout, so a panel is a transpose of words: blocks of
// 16 pairs keep the block's destination lines (16 rows of a panel) in L1 while the source rows stream through; with
// AVX-512 a block of 16 units x 16 pairs is one register transpose.
#include <algorithm>
#include <cstring>

#include "activations_vec.h"
#include "bf16_convert.h"
#include "bf16_step.h"
#include "simd_dispatch.h"
#include "transpose16.h"

// GCC vectors pass between always-inlined helpers only, so its ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu {

namespace {

constexpr int kPackPairs = 16;

// Pairs [p0, p1) of gate g's rows of group q of W [G N, K] into the panel's rows p0.. (W words per row).
void packBlock(const uint16_t* w, int K, int N, int U, int words, int q, int g, int p0, int p1, uint32_t* dst) {
  const int full = K / 2;
  for (int u = 0; u < U; ++u) {
    const int j = q * U + u, col = g * U + u;
    const uint16_t* row = j < N ? w + (int64_t(g) * N + j) * K : nullptr;
    for (int p = p0; p < p1; ++p) {
      uint32_t v = 0;
      if (row) v = p < full ? loadBf16Pair(row + 2 * p) : row[K - 1];  // an odd K's last pair: (w, +0)
      dst[size_t(p) * words + col] = v;
    }
  }
}

void packPart(const uint16_t* w, int K, int N, int U, int G, int q, uint32_t* dst) {
  const int pairs = (K + 1) / 2, words = G * U;
  // whole groups of an even K: U units x 16 pairs are register transposes of 32-bit words (unaligned loads)
  const bool transpose = K % 2 == 0 && (q + 1) * U <= N && hasUnitsTranspose(U);
  for (int g = 0; g < G; ++g) {
    for (int p0 = 0; p0 < pairs; p0 += kPackPairs) {
      const int p1 = std::min(pairs, p0 + kPackPairs);
      if (transpose && p1 - p0 == 16) {
        transposeUnits(U, reinterpret_cast<const uint32_t*>(w + (int64_t(g) * N + q * U) * K + 2 * p0), K / 2,
                       dst + size_t(p0) * words + g * U, words);
        continue;
      }
      packBlock(w, K, N, U, words, q, g, p0, p1, dst);
    }
  }
}

}  // namespace

void packBf16Panels(int gates, const uint16_t* a, int I, const uint16_t* b, int P, int N, int q0, int q1, uint32_t* panels) {
  const int U = bf16Units();
  const size_t words = bf16PanelWords(gates, I, P);
  for (int q = q0; q < q1; ++q) {
    uint32_t* panel = panels + q * words;
    if (I > 0) packPart(a, I, N, U, gates, q, panel);
    if (P > 0) packPart(b, P, N, U, gates, q, panel + size_t((I + 1) / 2) * gates * U);
  }
}

void packBf16Bias(int gates, const float* bias, const float* biasHn, int N, int q0, int q1, float* packed) {
  const int U = bf16Units();
  const size_t per = bf16BiasFloats(gates);
  for (int q = q0; q < q1; ++q) {
    float* out = packed + q * per;
    std::fill(out, out + per, 0.f);
    for (int g = 0; g < gates; ++g) {
      for (int u = 0; u < U; ++u) {
        const int j = q * U + u;
        if (j >= N) continue;
        out[g * U + u] = bias[int64_t(g) * N + j];
        if (gates == 3 && g == 2) out[3 * U + u] = biasHn[j];
      }
    }
  }
}

namespace {

struct Rounding {
  const float* src;
  uint16_t* dst;
  size_t n;
};

// (a float32 input of a whole sequence is rounded once per call: at batch 64 it is as large as the weights)
template <int Level>
RNN_INLINE void roundImpl(const Rounding& a) {
  constexpr int L = simd::lanes(Level);
  size_t i = 0;
  for (; i + L <= a.n; i += L) vec::Bf16<L>::store(a.dst + i, vec::Lanes<L>::load(a.src + i));
  for (; i < a.n; ++i) a.dst[i] = floatToBf16(a.src[i]);
}

RNN_DEFINE_DISPATCHED_FOR(Rounding, roundAll, roundImpl)

struct Widening {
  const uint16_t* src;
  float* dst;
  size_t n;
};

// (results of a call with float32 outputs are widened a row's share at a time, every step)
template <int Level>
RNN_INLINE void widenImpl(const Widening& a) {
  constexpr int L = simd::lanes(Level);
  size_t i = 0;
  for (; i + L <= a.n; i += L) vec::Lanes<L>::store(a.dst + i, vec::Bf16<L>::load(a.src + i));
  for (; i < a.n; ++i) a.dst[i] = bf16ToFloat(a.src[i]);
}

RNN_DEFINE_DISPATCHED_FOR(Widening, widenAll, widenImpl)

}  // namespace

void floatsToBf16(const float* src, uint16_t* dst, size_t n) { roundAll(Rounding{src, dst, n}); }

void bf16ToFloats(const uint16_t* src, float* dst, size_t n) { widenAll(Widening{src, dst, n}); }

}  // namespace rnn::cpu
