// Register-blocked tiles: AVX-512 keeps 6 rows x 64 tile columns (16 units) in 24 zmm accumulators (per k:
// three or four panel loads, six broadcasts, 18-24 FMAs); AVX2 keeps 3 rows x 32 columns (8 units) in 12 ymm;
// the baseline is plain loops over 16-unit panels (measured: with 8 it was several times slower). Each kernel runs the whole K = I + P loop with the tile in registers, stores it
// to a small buffer in L1, and the cell's epilogue finishes the tile's rows.
#include "packed_step.h"

#include <algorithm>

#include "activations.h"
#include "activations_vec.h"
#include "simd_level.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RNN_X86 1
#define RNN_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma,prefer-vector-width=512")))
#define RNN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

// Wide vectors pass between always-inlined helpers only (activations_vec.h), so GCC's ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu {

namespace {


struct Tile {
  const float* x;
  int64_t xStride;
  int I;
  const float* h;
  int64_t hStride;
  int P;
  const float* panel;
  const float* bias;
  const float* xg;  // null, or the precomputed input projection of row m at xg + m * xgStride + gate * gateStride
  int64_t xgStride, gateStride;
};

// Where the hidden part's gate g accumulates: GRU keeps W_hn h apart from W_in x (r scales only the former).
template <bool Gru>
constexpr int hiddenBlock(int g) {
  return Gru && g == 2 ? 3 : g;
}

// LSTM: c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c'), units [j0, j1) of a tile row
template <int L, int U>
RNN_INLINE void lstmUnits(const float* g, const PackedStepArgs& a, int64_t b, int unit0, int j0, int j1) {
  using V = vec::Lanes<L>;
  float* c = a.c + b * a.H + unit0;
  float* h = a.hNew + b * a.hNewStride + unit0;
  float* s = a.saved ? a.saved + b * a.savedStride + unit0 : nullptr;
  const int64_t k = a.H;
  for (int j = j0; j < j1; j += L) {
    const auto i = V::sigmoid(V::load(g + j));
    const auto f = V::sigmoid(V::load(g + U + j));
    const auto cell = V::tanh(V::load(g + 2 * U + j));
    const auto o = V::sigmoid(V::load(g + 3 * U + j));
    if (s) {
      V::store(s + j, i);
      V::store(s + k + j, f);
      V::store(s + 2 * k + j, cell);
      V::store(s + 3 * k + j, o);
    }
    const auto cNew = f * V::load(c + j) + i * cell;
    V::store(c + j, cNew);
    V::store(h + j, o * V::tanh(cNew));
  }
}

// GRU: n = tanh(x_n + b_in + r (h_n + b_hn)), h' = (1 - z) n + z h
template <int L, int U>
RNN_INLINE void gruUnits(const float* g, const PackedStepArgs& a, int64_t b, int unit0, int j0, int j1) {
  using V = vec::Lanes<L>;
  const float* hPrev = a.h + b * a.P + unit0;
  float* h = a.hNew + b * a.hNewStride + unit0;
  float* s = a.saved ? a.saved + b * a.savedStride + unit0 : nullptr;
  const int64_t k = a.H;
  for (int j = j0; j < j1; j += L) {
    const auto r = V::sigmoid(V::load(g + j));
    const auto z = V::sigmoid(V::load(g + U + j));
    const auto hn = V::load(g + 3 * U + j);
    const auto n = V::tanh(V::load(g + 2 * U + j) + r * hn);
    if (s) {
      V::store(s + j, r);
      V::store(s + k + j, z);
      V::store(s + 2 * k + j, n);
      V::store(s + 3 * k + j, hn);
    }
    V::store(h + j, n + z * (V::load(hPrev + j) - n));
  }
}

// The tile's rows: whole groups L units at a time, the last group of an H that is no multiple of U unit by unit
// (its rows end within the group).
template <int U, int L, bool Gru>
RNN_INLINE void epilogue(const float* tile, int rows, int units, const PackedStepArgs& a, int row0, int unit0) {
  static_assert(U % L == 0, "a group is whole registers");
  const int full = units == U ? U : 0;
  for (int m = 0; m < rows; ++m) {
    const float* g = tile + m * 4 * U;
    const int64_t b = row0 + m;
    if (Gru) {
      gruUnits<L, U>(g, a, b, unit0, 0, full);
      gruUnits<1, U>(g, a, b, unit0, full, units);
    } else {
      lstmUnits<L, U>(g, a, b, unit0, 0, full);
      lstmUnits<1, U>(g, a, b, unit0, full, units);
    }
  }
}

// Runs the tiles of one member: groups outer (a panel is reused by every row tile while it is in L2),
// row tiles of MR rows inner, the last tile with fewer rows.
template <int MR, int U, int L, bool Gru, class Kernel>
RNN_INLINE void forTiles(const PackedStepArgs& a, Kernel&& kernel) {
  constexpr int NC = 4 * U;
  alignas(64) float tile[MR * NC];
  const size_t floats = panelFloats(a.kind, a.I, a.P);
  for (int q = a.q0; q < a.q1; ++q) {
    const int unit0 = q * U, units = std::min(U, a.H - unit0);
    for (int r = 0; r < a.rows; r += MR) {
      const int rows = std::min(MR, a.rows - r);
      const Tile t{a.x + r * a.xStride, a.xStride, a.I, a.h + int64_t(r) * a.P, a.P, a.P, a.panels + q * floats,
                   a.bias + q * NC, a.xg ? a.xg + r * a.xgStride + unit0 : nullptr, a.xgStride, a.H};
      kernel(t, rows, tile);
      epilogue<U, L, Gru>(tile, rows, units, a, r, unit0);
    }
  }
}

// ---- baseline ----

constexpr int kBaseUnits = 16;

template <int MR, bool Gru>
void tileBase(const Tile& t, float* out) {
  constexpr int U = kBaseUnits, NC = 4 * U, G = Gru ? 3 : 4, W = G * U;
  float acc[MR][NC];
  for (int m = 0; m < MR; ++m) {
    for (int j = 0; j < NC; ++j) {
      const bool input = j / U < G;
      acc[m][j] = t.bias[j] + (t.xg && input ? t.xg[m * t.xgStride + (j / U) * t.gateStride + j % U] : 0.f);
    }
  }
  const float* w = t.panel;
  for (int part = 0; part < 2; ++part) {
    const float* a = part ? t.h : t.x;
    const int64_t as = part ? t.hStride : t.xStride;
    const int K = part ? t.P : t.I;
    for (int k = 0; k < K; ++k, w += W) {
      // gates r, z (i, f) land in place; the third block (and LSTM's fourth) moves one block on for GRU's W_hn h
      const int shift = part && Gru ? U : 0;
      for (int m = 0; m < MR; ++m) {
        const float s = a[m * as + k];
        float* __restrict dst = acc[m];
        for (int j = 0; j < 2 * U; ++j) dst[j] += s * w[j];
        for (int j = 2 * U; j < W; ++j) dst[j + shift] += s * w[j];
      }
    }
  }
  for (int m = 0; m < MR; ++m) std::copy(acc[m], acc[m] + NC, out + m * NC);
}

template <bool Gru>
void stepBase(const PackedStepArgs& a) {
  forTiles<4, kBaseUnits, 4, Gru>(a, [](const Tile& t, int rows, float* out) {
    switch (rows) {
      case 4: tileBase<4, Gru>(t, out); break;
      case 3: tileBase<3, Gru>(t, out); break;
      case 2: tileBase<2, Gru>(t, out); break;
      default: tileBase<1, Gru>(t, out); break;
    }
  });
}

#if RNN_X86

// ---- AVX-512 ----

template <int MR, bool Gru, bool Hidden>
RNN_TARGET_AVX512 RNN_INLINE void accumulateAvx512(__m512 (&acc)[MR][4], const float* a, int64_t as, int K, const float*& w) {
  constexpr int U = 16, G = Gru ? 3 : 4;
  for (int k = 0; k < K; ++k, w += G * U) {
    __m512 wg[G];
    for (int g = 0; g < G; ++g) wg[g] = _mm512_loadu_ps(w + 16 * g);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m512 s = _mm512_set1_ps(a[m * as + k]);
      for (int g = 0; g < G; ++g) {
        const int dst = Hidden ? hiddenBlock<Gru>(g) : g;
        acc[m][dst] = _mm512_fmadd_ps(s, wg[g], acc[m][dst]);
      }
    }
  }
}

template <int MR, bool Gru>
RNN_TARGET_AVX512 void tileAvx512(const Tile& t, float* out) {
  constexpr int NC = 64, G = Gru ? 3 : 4;
  __m512 acc[MR][4];
  for (int g = 0; g < 4; ++g) {
    const __m512 b = _mm512_loadu_ps(t.bias + 16 * g);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      acc[m][g] = t.xg && g < G ? _mm512_add_ps(b, _mm512_loadu_ps(t.xg + m * t.xgStride + g * t.gateStride)) : b;
    }
  }
  const float* w = t.panel;
  accumulateAvx512<MR, Gru, false>(acc, t.x, t.xStride, t.I, w);
  accumulateAvx512<MR, Gru, true>(acc, t.h, t.hStride, t.P, w);
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < 4; ++g) _mm512_store_ps(out + m * NC + 16 * g, acc[m][g]);
  }
}

#ifndef RNN_GEMV_NG
#define RNN_GEMV_NG 2
#endif
#ifndef RNN_GEMV_PF
#define RNN_GEMV_PF 0
#endif

// One row: the step is a matrix-vector product bound by streaming the panels from L2, so NG groups run at
// once (4 NG independent accumulator chains instead of 4, which FMA latency would otherwise limit).
template <int NG, bool Gru, bool Hidden>
RNN_TARGET_AVX512 RNN_INLINE void rowAccumulateAvx512(__m512 (&acc)[NG][4], const float* a, int K, const float* w,
                                                     size_t panelStride) {
  constexpr int U = 16, G = Gru ? 3 : 4, W = G * U;
  for (int k = 0; k < K; ++k, w += W) {
    const __m512 s = _mm512_set1_ps(a[k]);
#pragma GCC unroll 4
    for (int n = 0; n < NG; ++n) {
      if (RNN_GEMV_PF) _mm_prefetch(reinterpret_cast<const char*>(w + n * panelStride + RNN_GEMV_PF), _MM_HINT_T0);
      for (int g = 0; g < G; ++g) {
        const int dst = Hidden ? hiddenBlock<Gru>(g) : g;
        acc[n][dst] = _mm512_fmadd_ps(s, _mm512_loadu_ps(w + n * panelStride + 16 * g), acc[n][dst]);
      }
    }
  }
}

template <int NG, bool Gru>
RNN_TARGET_AVX512 void rowTilesAvx512(const PackedStepArgs& a, int q, float* out) {
  constexpr int U = 16, NC = 4 * U, G = Gru ? 3 : 4;
  const size_t floats = panelFloats(a.kind, a.I, a.P);
  __m512 acc[NG][4];
#pragma GCC unroll 4
  for (int n = 0; n < NG; ++n) {
    const int unit0 = (q + n) * U;
    for (int g = 0; g < 4; ++g) {
      const __m512 b = _mm512_loadu_ps(a.bias + (q + n) * NC + 16 * g);
      acc[n][g] = a.xg && g < G ? _mm512_add_ps(b, _mm512_loadu_ps(a.xg + g * a.H + unit0)) : b;
    }
  }
  const float* w = a.panels + q * floats;
  rowAccumulateAvx512<NG, Gru, false>(acc, a.x, a.I, w, floats);
  rowAccumulateAvx512<NG, Gru, true>(acc, a.h, a.P, w + size_t(a.I) * G * U, floats);
#pragma GCC unroll 4
  for (int n = 0; n < NG; ++n) {
    for (int g = 0; g < 4; ++g) _mm512_store_ps(out + n * NC + 16 * g, acc[n][g]);
  }
}

template <bool Gru>
RNN_TARGET_AVX512 void rowStepAvx512(const PackedStepArgs& a) {
  constexpr int U = 16, NC = 4 * U, NG = RNN_GEMV_NG;
  alignas(64) float tile[NG * NC];
  for (int q = a.q0; q < a.q1;) {
    const int n = a.q1 - q >= NG ? NG : 1;
    if (n == NG) rowTilesAvx512<NG, Gru>(a, q, tile);
    else rowTilesAvx512<1, Gru>(a, q, tile);
    for (int i = 0; i < n; ++i, ++q) {
      const int unit0 = q * U, units = std::min(U, a.H - unit0);
      epilogue<U, 16, Gru>(tile + i * NC, 1, units, a, 0, unit0);
    }
  }
}

template <bool Gru>
RNN_TARGET_AVX512 void stepAvx512(const PackedStepArgs& a) {
  if (a.rows == 1) return rowStepAvx512<Gru>(a);
  forTiles<6, 16, 16, Gru>(a, [](const Tile& t, int rows, float* out) RNN_TARGET_AVX512 {
    switch (rows) {
      case 6: tileAvx512<6, Gru>(t, out); break;
      case 5: tileAvx512<5, Gru>(t, out); break;
      case 4: tileAvx512<4, Gru>(t, out); break;
      case 3: tileAvx512<3, Gru>(t, out); break;
      case 2: tileAvx512<2, Gru>(t, out); break;
      default: tileAvx512<1, Gru>(t, out); break;
    }
  });
}

// ---- AVX2 ----

template <int MR, bool Gru, bool Hidden>
RNN_TARGET_AVX2 RNN_INLINE void accumulateAvx2(__m256 (&acc)[MR][4], const float* a, int64_t as, int K, const float*& w) {
  constexpr int U = 8, G = Gru ? 3 : 4;
  for (int k = 0; k < K; ++k, w += G * U) {
    __m256 wg[G];
    for (int g = 0; g < G; ++g) wg[g] = _mm256_loadu_ps(w + 8 * g);
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const __m256 s = _mm256_set1_ps(a[m * as + k]);
      for (int g = 0; g < G; ++g) {
        const int dst = Hidden ? hiddenBlock<Gru>(g) : g;
        acc[m][dst] = _mm256_fmadd_ps(s, wg[g], acc[m][dst]);
      }
    }
  }
}

template <int MR, bool Gru>
RNN_TARGET_AVX2 void tileAvx2(const Tile& t, float* out) {
  constexpr int NC = 32, G = Gru ? 3 : 4;
  __m256 acc[MR][4];
  for (int g = 0; g < 4; ++g) {
    const __m256 b = _mm256_loadu_ps(t.bias + 8 * g);
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      acc[m][g] = t.xg && g < G ? _mm256_add_ps(b, _mm256_loadu_ps(t.xg + m * t.xgStride + g * t.gateStride)) : b;
    }
  }
  const float* w = t.panel;
  accumulateAvx2<MR, Gru, false>(acc, t.x, t.xStride, t.I, w);
  accumulateAvx2<MR, Gru, true>(acc, t.h, t.hStride, t.P, w);
#pragma GCC unroll 4
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < 4; ++g) _mm256_store_ps(out + m * NC + 8 * g, acc[m][g]);
  }
}

template <bool Gru>
RNN_TARGET_AVX2 void stepAvx2(const PackedStepArgs& a) {
  forTiles<3, 8, 8, Gru>(a, [](const Tile& t, int rows, float* out) RNN_TARGET_AVX2 {
    switch (rows) {
      case 3: tileAvx2<3, Gru>(t, out); break;
      case 2: tileAvx2<2, Gru>(t, out); break;
      default: tileAvx2<1, Gru>(t, out); break;
    }
  });
}

#endif

}  // namespace

void packPanels(CellKind kind, const float* wIh, int I, const float* wHh, int P, const float* bias,
                const float* biasHn, int H, int q0, int q1, float* panels, float* packedBias) {
  const int U = packedUnits(), NC = 4 * U, G = gateCount(kind), W = G * U;
  const size_t floats = panelFloats(kind, I, P);
  for (int q = q0; q < q1; ++q) {
    float* panel = panels + q * floats;
    float* b = packedBias + q * NC;
    std::fill(b, b + NC, 0.f);
    for (int g = 0; g < G; ++g) {
      for (int u = 0; u < U; ++u) {
        const int j = q * U + u, col = g * U + u;
        if (j >= H) {
          for (int k = 0; k < I + P; ++k) panel[k * W + col] = 0.f;
          continue;
        }
        const int64_t row = int64_t(g) * H + j;
        b[col] = bias[row];
        if (kind == CellKind::Gru && g == 2) b[3 * U + u] = biasHn[j];
        const float* ih = wIh + row * I;
        const float* hh = wHh + row * P;
        for (int k = 0; k < I; ++k) panel[k * W + col] = ih[k];
        for (int k = 0; k < P; ++k) panel[(I + k) * W + col] = hh[k];
      }
    }
  }
}

int packedUnits() { return simdLevel() == 1 ? 8 : kBaseUnits; }

void packedStep(const PackedStepArgs& a) {
  const bool gru = a.kind == CellKind::Gru;
#if RNN_X86
  const int level = simdLevel();
  if (level == 2) return gru ? stepAvx512<true>(a) : stepAvx512<false>(a);
  if (level == 1) return gru ? stepAvx2<true>(a) : stepAvx2<false>(a);
#endif
  gru ? stepBase<true>(a) : stepBase<false>(a);
}

}  // namespace rnn::cpu
