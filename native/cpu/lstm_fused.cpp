// Register-blocked tiles: AVX-512 keeps 6 rows x 64 gate columns in 24 zmm accumulators (per k: four panel
// loads, six broadcasts, 24 FMAs); AVX2 does each half of the 16 units as 3 rows x 32 columns (12 ymm); the
// baseline is plain loops. Each kernel runs the whole K = I + P loop with the tile in registers, stores it to a
// small buffer in L1 and the shared epilogue finishes the cell for the tile's rows.
#include "lstm_fused.h"

#include <algorithm>

#include "activations.h"
#include "simd_level.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RNN_X86 1
#define RNN_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma,prefer-vector-width=512")))
#define RNN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace rnn::cpu {

namespace {

constexpr int U = kLstmUnits, NC = kLstmPanelCols;

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

// c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c') for `rows` rows of a tile ([row][i|f|g|o x 16]).
RNN_INLINE void epilogue(const float* tile, int rows, int units, const LstmFusedArgs& a, int row0, int unit0) {
  for (int m = 0; m < rows; ++m) {
    const float* __restrict g = tile + m * NC;
    const int64_t b = row0 + m;
    float* __restrict c = a.c + b * a.H + unit0;
    float* __restrict h = a.hNew + b * a.hNewStride + unit0;
    if (a.saved) {
      float* __restrict s = a.saved + b * a.savedStride + unit0;
      const int64_t k = a.H;
      for (int j = 0; j < units; ++j) {
        s[j] = fastSigmoid(g[j]);
        s[k + j] = fastSigmoid(g[U + j]);
        s[2 * k + j] = fastTanh(g[2 * U + j]);
        s[3 * k + j] = fastSigmoid(g[3 * U + j]);
      }
      for (int j = 0; j < units; ++j) {
        const float cNew = s[k + j] * c[j] + s[j] * s[2 * k + j];
        c[j] = cNew;
        h[j] = s[3 * k + j] * fastTanh(cNew);
      }
      continue;
    }
    for (int j = 0; j < units; ++j) {
      const float i = fastSigmoid(g[j]);
      const float f = fastSigmoid(g[U + j]);
      const float cell = fastTanh(g[2 * U + j]);
      const float o = fastSigmoid(g[3 * U + j]);
      const float cNew = f * c[j] + i * cell;
      c[j] = cNew;
      h[j] = o * fastTanh(cNew);
    }
  }
}

// Runs the tiles of one member: groups outer (a panel is reused by every row tile while it is in L2),
// row tiles of MR rows inner, the last tile with fewer rows.
template <int MR, class Kernel>
RNN_INLINE void forTiles(const LstmFusedArgs& a, Kernel&& kernel) {
  alignas(64) float tile[MR * NC];
  const size_t panelFloats = lstmPanelFloats(a.I, a.P);
  for (int q = a.q0; q < a.q1; ++q) {
    const int unit0 = q * U, units = std::min(U, a.H - unit0);
    for (int r = 0; r < a.rows; r += MR) {
      const int rows = std::min(MR, a.rows - r);
      const Tile t{a.x + r * a.xStride, a.xStride, a.I, a.h + int64_t(r) * a.P, a.P, a.P, a.panels + q * panelFloats,
                   a.bias + q * NC, a.xg ? a.xg + r * a.xgStride + unit0 : nullptr, a.xgStride, a.H};
      kernel(t, rows, tile);
      epilogue(tile, rows, units, a, r, unit0);
    }
  }
}

// ---- baseline ----

template <int MR>
void tileBase(const Tile& t, float* out) {
  float acc[MR][NC];
  for (int m = 0; m < MR; ++m) {
    for (int j = 0; j < NC; ++j) acc[m][j] = t.bias[j] + (t.xg ? t.xg[m * t.xgStride + (j / U) * t.gateStride + j % U] : 0.f);
  }
  const float* w = t.panel;
  for (int part = 0; part < 2; ++part) {
    const float* a = part ? t.h : t.x;
    const int64_t as = part ? t.hStride : t.xStride;
    const int K = part ? t.P : t.I;
    for (int k = 0; k < K; ++k, w += NC) {
      for (int m = 0; m < MR; ++m) {
        const float s = a[m * as + k];
        for (int j = 0; j < NC; ++j) acc[m][j] += s * w[j];
      }
    }
  }
  for (int m = 0; m < MR; ++m) std::copy(acc[m], acc[m] + NC, out + m * NC);
}

void stepBase(const LstmFusedArgs& a) {
  forTiles<4>(a, [](const Tile& t, int rows, float* out) {
    switch (rows) {
      case 4: tileBase<4>(t, out); break;
      case 3: tileBase<3>(t, out); break;
      case 2: tileBase<2>(t, out); break;
      default: tileBase<1>(t, out); break;
    }
  });
}

#if RNN_X86

// ---- AVX-512 ----

template <int MR>
RNN_TARGET_AVX512 RNN_INLINE void accumulateAvx512(__m512 (&acc)[MR][4], const float* a, int64_t as, int K, const float*& w) {
  for (int k = 0; k < K; ++k, w += NC) {
    const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16), w2 = _mm512_loadu_ps(w + 32),
                 w3 = _mm512_loadu_ps(w + 48);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m512 s = _mm512_set1_ps(a[m * as + k]);
      acc[m][0] = _mm512_fmadd_ps(s, w0, acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(s, w1, acc[m][1]);
      acc[m][2] = _mm512_fmadd_ps(s, w2, acc[m][2]);
      acc[m][3] = _mm512_fmadd_ps(s, w3, acc[m][3]);
    }
  }
}

template <int MR>
RNN_TARGET_AVX512 void tileAvx512(const Tile& t, float* out) {
  __m512 acc[MR][4];
  for (int g = 0; g < 4; ++g) {
    const __m512 b = _mm512_loadu_ps(t.bias + 16 * g);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      acc[m][g] = t.xg ? _mm512_add_ps(b, _mm512_loadu_ps(t.xg + m * t.xgStride + g * t.gateStride)) : b;
    }
  }
  const float* w = t.panel;
  accumulateAvx512<MR>(acc, t.x, t.xStride, t.I, w);
  accumulateAvx512<MR>(acc, t.h, t.hStride, t.P, w);
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < 4; ++g) _mm512_store_ps(out + m * NC + 16 * g, acc[m][g]);
  }
}

RNN_TARGET_AVX512 void stepAvx512(const LstmFusedArgs& a) {
  forTiles<6>(a, [](const Tile& t, int rows, float* out) RNN_TARGET_AVX512 {
    switch (rows) {
      case 6: tileAvx512<6>(t, out); break;
      case 5: tileAvx512<5>(t, out); break;
      case 4: tileAvx512<4>(t, out); break;
      case 3: tileAvx512<3>(t, out); break;
      case 2: tileAvx512<2>(t, out); break;
      default: tileAvx512<1>(t, out); break;
    }
  });
}

// ---- AVX2 ----

template <int MR>
RNN_TARGET_AVX2 RNN_INLINE void accumulateAvx2(__m256 (&acc)[MR][4], const float* a, int64_t as, int K, const float*& w) {
  for (int k = 0; k < K; ++k, w += NC) {
    const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 16), w2 = _mm256_loadu_ps(w + 32),
                 w3 = _mm256_loadu_ps(w + 48);
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const __m256 s = _mm256_set1_ps(a[m * as + k]);
      acc[m][0] = _mm256_fmadd_ps(s, w0, acc[m][0]);
      acc[m][1] = _mm256_fmadd_ps(s, w1, acc[m][1]);
      acc[m][2] = _mm256_fmadd_ps(s, w2, acc[m][2]);
      acc[m][3] = _mm256_fmadd_ps(s, w3, acc[m][3]);
    }
  }
}

// Two passes, units 0-7 then 8-15 of the panel (each gate's eight columns at offset 8 * half).
template <int MR>
RNN_TARGET_AVX2 void tileAvx2(const Tile& t, float* out) {
  for (int half = 0; half < 2; ++half) {
    __m256 acc[MR][4];
    for (int g = 0; g < 4; ++g) {
      const __m256 b = _mm256_loadu_ps(t.bias + 16 * g + 8 * half);
#pragma GCC unroll 4
      for (int m = 0; m < MR; ++m) {
        acc[m][g] = t.xg ? _mm256_add_ps(b, _mm256_loadu_ps(t.xg + m * t.xgStride + g * t.gateStride + 8 * half)) : b;
      }
    }
    const float* w = t.panel + 8 * half;
    accumulateAvx2<MR>(acc, t.x, t.xStride, t.I, w);
    accumulateAvx2<MR>(acc, t.h, t.hStride, t.P, w);
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      for (int g = 0; g < 4; ++g) _mm256_store_ps(out + m * NC + 16 * g + 8 * half, acc[m][g]);
    }
  }
}

RNN_TARGET_AVX2 void stepAvx2(const LstmFusedArgs& a) {
  forTiles<3>(a, [](const Tile& t, int rows, float* out) RNN_TARGET_AVX2 {
    switch (rows) {
      case 3: tileAvx2<3>(t, out); break;
      case 2: tileAvx2<2>(t, out); break;
      default: tileAvx2<1>(t, out); break;
    }
  });
}

#endif

}  // namespace

void packLstm(const float* wIh, int I, const float* wHh, int P, const float* bias, int H, int q0, int q1,
              float* panels, float* packedBias) {
  const size_t panelFloats = lstmPanelFloats(I, P);
  for (int q = q0; q < q1; ++q) {
    float* panel = panels + q * panelFloats;
    float* b = packedBias + q * NC;
    for (int g = 0; g < 4; ++g) {
      for (int u = 0; u < U; ++u) {
        const int j = q * U + u, col = g * U + u;
        if (j >= H) {
          b[col] = 0.f;
          for (int k = 0; k < I + P; ++k) panel[k * NC + col] = 0.f;
          continue;
        }
        const int64_t row = int64_t(g) * H + j;
        b[col] = bias[row];
        const float* ih = wIh + row * I;
        const float* hh = wHh + row * P;
        for (int k = 0; k < I; ++k) panel[k * NC + col] = ih[k];
        for (int k = 0; k < P; ++k) panel[(I + k) * NC + col] = hh[k];
      }
    }
  }
}

void lstmFusedStep(const LstmFusedArgs& a) {
#if RNN_X86
  const int level = simdLevel();
  if (level == 2) return stepAvx512(a);
  if (level == 1) return stepAvx2(a);
#endif
  stepBase(a);
}

}  // namespace rnn::cpu
