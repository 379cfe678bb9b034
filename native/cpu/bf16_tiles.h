// The tile kernels of the bfloat16 step (included by bf16_step.cpp only): out[MR rows][blocks x U units] =
// bias (+ xg) + x W_ih^T + h W_hh^T over panels of bfloat16 pairs (bf16_step.h), accumulated in float32.
//  - tileDot: AVX512_BF16, 16 units, one VDPBF16PS per (row, gate, pair of k): the row's pair is broadcast as one
//    32-bit word; 6 rows x 4 blocks keep 24 zmm accumulators.
//  - tileWide: no BF16 dot product. The panel word of a pair gives both weights as float32 by a shift (low half)
//    and a mask (high half), then two FMAs; L lanes per vector (16 AVX-512, 8 AVX2, 4 baseline), U / L vectors
//    per gate block. Each lane's sum has the same terms as the dot product's (the order of the additions differs).
// An odd K's last pair holds one element: its partner is read as +0 (the panel's is 0 too), never past the row.
#pragma once
#include <cstdint>

#include "activations.h"
#include "bf16_convert.h"
#include "simd_dispatch.h"

#if RNN_SIMD_X86
#include <immintrin.h>
#endif

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu::bf16 {

struct Tile {
  const uint16_t* x;  // first operand (I columns), row m at x + m * xStride
  int64_t xStride;
  int I;
  const uint16_t* h;  // second operand (P columns)
  int64_t hStride;
  int P;
  const uint32_t* panel;
  const float* bias;  // blocks x U initial values, or null for zeros
  const float* xg;    // null, or added to block g < G of row m: xg + m * xgStride + g * gateStride
  int64_t xgStride, gateStride;
};

constexpr int blocksOf(int G) { return G == 3 ? 4 : G; }

// Where gate g of the second operand accumulates: GRU keeps W_hn h in the fourth block.
template <int G>
constexpr int hiddenBlock(int g) {
  return G == 3 && g == 2 ? 3 : g;
}

// The last element of an odd-length row as a pair with +0.
RNN_INLINE uint32_t lastPair(const uint16_t* row, int K) { return row[K - 1]; }

// ---- generic widening kernel (GCC vectors of L lanes) ----

template <int L>
struct Wide {
  typedef float F __attribute__((vector_size(4 * L)));
  typedef uint32_t U __attribute__((vector_size(4 * L)));
  static RNN_INLINE F load(const float* p) {
    F v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
  }
  static RNN_INLINE void store(float* p, const F& v) { __builtin_memcpy(p, &v, sizeof v); }
  static RNN_INLINE void split(const uint32_t* w, F& lo, F& hi) {
    U u;
    __builtin_memcpy(&u, w, sizeof u);
    const U a = u << 16, b = u & 0xffff0000u;
    __builtin_memcpy(&lo, &a, sizeof lo);
    __builtin_memcpy(&hi, &b, sizeof hi);
  }
};

template <int L, int U, int MR, int G, bool Hidden>
RNN_INLINE void widePart(typename Wide<L>::F (&acc)[MR][blocksOf(G) * (U / L)], const uint16_t* a, int64_t as, int K,
                         const uint32_t*& w) {
  using W = Wide<L>;
  constexpr int V = U / L;
  const int pairs = (K + 1) / 2;
  for (int p = 0; p < pairs; ++p, w += G * U) {
    const bool tail = 2 * p + 1 == K;
    float a0[MR], a1[MR];
    for (int m = 0; m < MR; ++m) {
      const uint32_t pair = tail ? lastPair(a + m * as, K) : loadBf16Pair(a + m * as + 2 * p);
      a0[m] = bf16PairLow(pair);
      a1[m] = bf16PairHigh(pair);
    }
    for (int g = 0; g < G; ++g) {
      const int dst = Hidden ? hiddenBlock<G>(g) : g;
      for (int v = 0; v < V; ++v) {
        typename W::F lo, hi;
        W::split(w + g * U + v * L, lo, hi);
        // a bfloat16 product is exact in float32, so fusing one of them changes no bit, only the instruction count
        for (int m = 0; m < MR; ++m) {
          const typename W::F s0 = a0[m] - typename W::F{}, s1 = a1[m] - typename W::F{};
          acc[m][dst * V + v] += ContractAt<L>::madd(s0, lo, s1 * hi);
        }
      }
    }
  }
}

template <int L, int U, int MR, int G>
RNN_INLINE void tileWide(const Tile& t, float* out) {
  using W = Wide<L>;
  constexpr int V = U / L, NB = blocksOf(G), NC = NB * U;
  typename W::F acc[MR][NB * V];
  for (int b = 0; b < NB; ++b) {
    for (int v = 0; v < V; ++v) {
      const typename W::F init = t.bias ? W::load(t.bias + b * U + v * L) : typename W::F{};
      for (int m = 0; m < MR; ++m) {
        acc[m][b * V + v] = t.xg && b < G ? init + W::load(t.xg + m * t.xgStride + b * t.gateStride + v * L) : init;
      }
    }
  }
  const uint32_t* w = t.panel;
  widePart<L, U, MR, G, false>(acc, t.x, t.xStride, t.I, w);
  widePart<L, U, MR, G, true>(acc, t.h, t.hStride, t.P, w);
  for (int m = 0; m < MR; ++m) {
    for (int i = 0; i < NB * V; ++i) W::store(out + m * NC + i * L, acc[m][i]);
  }
}

#if RNN_SIMD_X86

// ---- AVX512_BF16 ----

template <int MR, int G, bool Hidden>
RNN_TARGET_BF16DOT RNN_INLINE void dotPart(__m512 (&acc)[MR][blocksOf(G)], const uint16_t* a, int64_t as, int K,
                                           const uint32_t*& w) {
  const int pairs = K / 2;
  for (int p = 0; p < pairs; ++p, w += G * 16) {
    __m512i wg[G];
    for (int g = 0; g < G; ++g) wg[g] = _mm512_loadu_si512(w + 16 * g);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m512i s = _mm512_set1_epi32(int(loadBf16Pair(a + m * as + 2 * p)));
      for (int g = 0; g < G; ++g) {
        const int dst = Hidden ? hiddenBlock<G>(g) : g;
        acc[m][dst] = _mm512_dpbf16_ps(acc[m][dst], (__m512bh)s, (__m512bh)wg[g]);
      }
    }
  }
  if (K % 2 == 1) {
    __m512i wg[G];
    for (int g = 0; g < G; ++g) wg[g] = _mm512_loadu_si512(w + 16 * g);
    for (int m = 0; m < MR; ++m) {
      const __m512i s = _mm512_set1_epi32(int(lastPair(a + m * as, K)));
      for (int g = 0; g < G; ++g) {
        const int dst = Hidden ? hiddenBlock<G>(g) : g;
        acc[m][dst] = _mm512_dpbf16_ps(acc[m][dst], (__m512bh)s, (__m512bh)wg[g]);
      }
    }
    w += G * 16;
  }
}

template <int MR, int G>
RNN_TARGET_BF16DOT void tileDot(const Tile& t, float* out) {
  constexpr int NB = blocksOf(G), NC = NB * 16;
  __m512 acc[MR][NB];
  for (int b = 0; b < NB; ++b) {
    const __m512 init = t.bias ? _mm512_loadu_ps(t.bias + 16 * b) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      acc[m][b] = t.xg && b < G ? _mm512_add_ps(init, _mm512_loadu_ps(t.xg + m * t.xgStride + b * t.gateStride)) : init;
    }
  }
  const uint32_t* w = t.panel;
  dotPart<MR, G, false>(acc, t.x, t.xStride, t.I, w);
  dotPart<MR, G, true>(acc, t.h, t.hStride, t.P, w);
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    for (int b = 0; b < NB; ++b) _mm512_storeu_ps(out + m * NC + 16 * b, acc[m][b]);
  }
}

// One row (batch 1, and packed steps whose batch has shrunk to 1) and one unit group. A group's
// four accumulators alone would be four chains of K/2 dependent VDPBF16PS (6 cycles each on Zen 5, a third of the
// rate the core issues them), so each gate sums pairs p = c (mod 3) in chain c (12 independent chains) and adds the
// three at the end, reading the group's panel front to back as one stream. (The first form ran 3 groups side by
// side, 3 streams 32 KB apart: measured on Zen 5, 480 KB of panels from L2, 4.3 us against 2.5 us for this one and
// 3.0 us for one chain per gate.) The chains depend on K only, never on the thread team; the sums round differently
// from tileDot's (one chain per gate), so a batch-1 row and a row of a larger batch may differ in the last bits.
// The panels stream from L2 with nothing to reuse: a software prefetch 2 KB ahead (8 pairs of k) took an LSTM 256
// member's step from ~2.6 to ~2.35 us (scripts/step-kernel-probe.sh; 4 KB measured alike).
constexpr int kRowPrefetchWords = 512;

template <int G, bool Hidden>
RNN_TARGET_BF16DOT RNN_INLINE void rowDotPart(__m512 (&acc)[blocksOf(G)], const uint16_t* a, int K, const uint32_t*& w) {
  constexpr int C = 3;
  __m512 part[C][G];
  for (int c = 0; c < C; ++c) {
    for (int g = 0; g < G; ++g) part[c][g] = _mm512_setzero_ps();
  }
  const int pairs = K / 2;
  int p = 0;
  for (; p + C <= pairs; p += C, w += C * G * 16) {
    for (int c = 0; c < C; ++c) {
      const __m512i s = _mm512_set1_epi32(int(loadBf16Pair(a + 2 * (p + c))));
      for (int g = 0; g < G; ++g) {
        __builtin_prefetch(w + 16 * (c * G + g) + kRowPrefetchWords, 0, 3);
        part[c][g] = _mm512_dpbf16_ps(part[c][g], (__m512bh)s, (__m512bh)_mm512_loadu_si512(w + 16 * (c * G + g)));
      }
    }
  }
  for (; p <= pairs; ++p) {
    if (p == pairs && K % 2 == 0) break;
    const __m512i s = _mm512_set1_epi32(int(p == pairs ? lastPair(a, K) : loadBf16Pair(a + 2 * p)));
    for (int g = 0; g < G; ++g) {
      part[0][g] = _mm512_dpbf16_ps(part[0][g], (__m512bh)s, (__m512bh)_mm512_loadu_si512(w + 16 * g));
    }
    w += G * 16;
  }
  for (int g = 0; g < G; ++g) {
    const int dst = Hidden ? hiddenBlock<G>(g) : g;
    __m512 sum = part[0][g];
    for (int c = 1; c < C; ++c) sum = _mm512_add_ps(sum, part[c][g]);
    acc[dst] = _mm512_add_ps(acc[dst], sum);
  }
}

template <int G>
RNN_TARGET_BF16DOT void rowDot(const Tile& t, float* out) {
  constexpr int NB = blocksOf(G);
  __m512 acc[NB];
  for (int b = 0; b < NB; ++b) {
    const __m512 init = t.bias ? _mm512_loadu_ps(t.bias + 16 * b) : _mm512_setzero_ps();
    acc[b] = t.xg && b < G ? _mm512_add_ps(init, _mm512_loadu_ps(t.xg + b * t.gateStride)) : init;
  }
  const uint32_t* w = t.panel;
  rowDotPart<G, false>(acc, t.x, t.I, w);
  rowDotPart<G, true>(acc, t.h, t.P, w);
  for (int b = 0; b < NB; ++b) _mm512_storeu_ps(out + 16 * b, acc[b]);
}

#endif

}  // namespace rnn::cpu::bf16

#pragma GCC diagnostic pop
