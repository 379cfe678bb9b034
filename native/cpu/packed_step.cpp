// Register-blocked tiles, one body in GCC vectors for both: AVX-512 keeps 6 rows x 64 tile columns (16 units) in
// 24 zmm accumulators (per k: three or four panel loads, six broadcasts, 18-24 FMAs); AVX2 keeps 3 rows x 32
// columns (8 units) in 12 ymm; the baseline is plain loops over 16-unit panels (measured: with 8 it was several
// times slower). Each kernel runs the whole K = I + P loop with the tile in registers, stores it
// to a small buffer in L1, and the cell's epilogue finishes the tile's rows. At batch 1 a step is a matrix-vector
// product: the 1-row tile streams the panels at about L2 bandwidth (~100 GB/s per core measured on Zen 4), and a
// kernel with 8-16 independent accumulator chains per row (several groups at once) measured no faster.
// Contraction off: every FMA of this file is written (activations.h, Contract), none left to GCC's choice.
#pragma GCC optimize("fp-contract=off")

#include "packed_step.h"

#include <algorithm>

#include "activations_vec.h"
#include "cell_epilogue.h"
#include "prefetch.h"
#include "simd_dispatch.h"
#include "transpose16.h"

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

// Batch row b's gate sums at g for the group from unit0 on, where its c and h are, where its gates are saved.
template <bool Gru>
RNN_INLINE cell::Row<cell::FloatH> cellRow(const float* g, const PackedStepArgs& a, int64_t b, int unit0) {
  return {g,
          Gru ? nullptr : a.c + b * a.H + unit0,
          Gru ? a.h + b * a.P + unit0 : nullptr,
          {a.hNew + b * a.hNewStride + unit0},
          a.saved ? a.saved + b * a.savedStride + unit0 : nullptr,
          a.H};
}

constexpr int cellOf(bool gru) { return gru ? cell_dispatch::kGru : cell_dispatch::kLstm; }

// The tile's rows through the cell (cell_epilogue.h), with the gates saved when the call records them.
template <int U, int L, bool Gru>
RNN_INLINE void epilogue(const float* tile, int rows, int units, const PackedStepArgs& a, int row0, int unit0) {
  cell::updateRows<ContractAt<L>, L, U, cellOf(Gru), true>(
      rows, units, [&](int m) { return cellRow<Gru>(tile + m * 4 * U, a, row0 + m, unit0); });
}

// Runs the tiles of one member: groups outer (a panel is reused by every row tile while it is in L2),
// row tiles of MR rows inner, the last tile with fewer rows.
template <int MR, int U, int L, bool Gru, class Kernel>
RNN_INLINE void forTiles(const PackedStepArgs& a, Kernel&& kernel) {
  constexpr int NC = 4 * U;
  static_assert(MR >= 2, "one row's tile holds two groups' sums");
  alignas(64) float tile[MR * NC];
  const size_t floats = panelFloats(a.kind, a.I, a.P);
  const XgLayout& xl = a.xgLayout;
  const auto tileAt = [&](int q, int r) {
    return Tile{a.x + r * a.xStride, a.xStride, a.I, a.h + int64_t(r) * a.P, a.P, a.P, a.panels + q * floats,
                a.bias + q * NC, a.xg ? a.xg + q * xl.groupStride + r * xl.rowStride : nullptr, xl.rowStride,
                xl.gateStride};
  };
  prefetchSmall(a.h, sizeof(float) * a.rows * a.P);
  if (a.rows == 1) {
    // one row: two groups' sums at a time, their cell updates paired (cell::GroupPairs)
    const auto rowOf = [&](const float* g, int unit0) { return cellRow<Gru>(g, a, 0, unit0); };
    cell::GroupPairs<ContractAt<L>, L, U, cellOf(Gru), true, NC, decltype(rowOf)> pairs(a.H, rowOf);
    for (int q = a.q0; q < a.q1; q += 2) {
      const int n = std::min(2, a.q1 - q);
      for (int i = 0; i < n; ++i) kernel(tileAt(q + i, 0), 1, tile + i * NC);
      pairs.offer(tile, n, q * U);
    }
    pairs.finish();
    return;
  }
  for (int q = a.q0; q < a.q1; ++q) {
    const int unit0 = q * U, units = std::min(U, a.H - unit0);
    for (int r = 0; r < a.rows; r += MR) {
      const int rows = std::min(MR, a.rows - r);
      kernel(tileAt(q, r), rows, tile);
      epilogue<U, L, Gru>(tile, rows, units, a, r, unit0);
    }
  }
}

// The input projection alone (panels of W_ih only, no bias): the same kernels, each tile's G gate blocks
// copied out to xg (only the group's units, so a group's tail never writes into the next gate's columns).
template <int MR, int U, class Kernel>
RNN_INLINE void forProjectionTiles(const ProjectionArgs& a, Kernel&& kernel) {
  constexpr int NC = 4 * U;
  alignas(64) static const float zeros[NC] = {};
  alignas(64) float tile[MR * NC];
  const int G = gateCount(a.kind);
  const size_t floats = panelFloats(a.kind, a.I, 0);
  const XgLayout& xl = a.xgLayout;
  for (int q = a.q0; q < a.q1; ++q) {
    const int unit0 = q * U, units = std::min(U, a.H - unit0);
    for (int r = 0; r < a.rows; r += MR) {
      const int rows = std::min(MR, a.rows - r);
      const Tile t{a.x + r * a.xStride, a.xStride, a.I, nullptr, 0, 0, a.panels + q * floats, zeros, nullptr, 0, 0};
      kernel(t, rows, tile);
      for (int m = 0; m < rows; ++m) {
        float* dst = a.xg + q * xl.groupStride + (r + m) * xl.rowStride;
        for (int g = 0; g < G; ++g) {
          std::copy(tile + m * NC + g * U, tile + m * NC + g * U + units, dst + g * xl.gateStride);
        }
      }
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

// Each level's rows per tile, units per group and tile kernel: Of<Gru>::tile<R> for a tile of R <= MR rows.
template <int Level>
struct Kernel;

template <>
struct Kernel<simd::kBase> {
  static constexpr int MR = 4, U = kBaseUnits;
  template <bool Gru>
  struct Of {
    template <int R>
    static void tile(const Tile& t, float* out) { tileBase<R, Gru>(t, out); }
  };
};

#if RNN_SIMD_X86

// ---- AVX-512 and AVX2: one body in GCC vectors of L lanes (L = U units) ----
// Written with the vector extensions rather than intrinsics: measured the same speed (LSTM tile, 6 rows x 64
// columns, K = 512, panels in L2: 220-226 GFLOP/s with _mm512_fmadd_ps, 219-220 with s * w + acc contracted into
// the same VFMADD231PS; the same 24 FMAs per k-step and the same bits). The FMA is written out (madd), as every
// one in this file: contraction is off here (activations.h, Contract).

// A single row's kernel streams the panels from L2 with nothing to reuse; the hardware prefetchers alone left it
// at ~4.4 us a step for an LSTM 256 member's 512 KB, a software prefetch 4 KB ahead (16 k-steps) brought it to
// ~4.0 (scripts/step-kernel-probe.sh; 2 and 1.5 KB ahead measured alike, 16 KB slower).
constexpr int kRowPrefetchFloats = 1024;

template <int L, int MR, bool Gru, bool Hidden>
RNN_INLINE void accumulate(typename vec::Types<L>::F (&acc)[MR][4], const float* a, int64_t as, int K, const float*& w) {
  using F = typename vec::Types<L>::F;
  constexpr int G = Gru ? 3 : 4;
  for (int k = 0; k < K; ++k, w += G * L) {
    F wg[G];
    if (MR == 1) {
      for (int g = 0; g < G; ++g) __builtin_prefetch(w + L * g + kRowPrefetchFloats, 0, 3);
    }
    for (int g = 0; g < G; ++g) wg[g] = vec::Lanes<L>::load(w + L * g);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      // x - 0 is x for every x (-0 and NaN too), so GCC folds it into one VBROADCASTSS from memory; F{} + x is not
      // (-0 + 0 is +0) and costs an add, and {x, x, ...} or a loop over the lanes became a masked insert per lane
      const F s = a[m * as + k] - F{};
      for (int g = 0; g < G; ++g) {
        const int dst = Hidden ? hiddenBlock<Gru>(g) : g;
        acc[m][dst] = ContractAt<L>::madd(s, wg[g], acc[m][dst]);
      }
    }
  }
}

template <int L, int MR, bool Gru>
RNN_INLINE void tileBody(const Tile& t, float* out) {
  using F = typename vec::Types<L>::F;
  using V = vec::Lanes<L>;
  constexpr int NC = 4 * L, G = Gru ? 3 : 4;
  F acc[MR][4];
  for (int g = 0; g < 4; ++g) {
    const F b = V::load(t.bias + L * g);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      acc[m][g] = t.xg && g < G ? b + V::load(t.xg + m * t.xgStride + g * t.gateStride) : b;
    }
  }
  const float* w = t.panel;
  accumulate<L, MR, Gru, false>(acc, t.x, t.xStride, t.I, w);
  accumulate<L, MR, Gru, true>(acc, t.h, t.hStride, t.P, w);
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < 4; ++g) V::store(out + m * NC + L * g, acc[m][g]);
  }
}

// The bodies compiled for each level's instructions (a template cannot take the target attribute from L).
template <int MR, bool Gru>
RNN_TARGET_AVX512 void tileAvx512(const Tile& t, float* out) { tileBody<16, MR, Gru>(t, out); }

template <int MR, bool Gru>
RNN_TARGET_AVX2 void tileAvx2(const Tile& t, float* out) { tileBody<8, MR, Gru>(t, out); }

template <>
struct Kernel<simd::kAvx512> {
  static constexpr int MR = 6, U = 16;
  template <bool Gru>
  struct Of {
    template <int R>
    static void tile(const Tile& t, float* out) { tileAvx512<R, Gru>(t, out); }
  };
};

template <>
struct Kernel<simd::kAvx2> {
  static constexpr int MR = 3, U = 8;
  template <bool Gru>
  struct Of {
    template <int R>
    static void tile(const Tile& t, float* out) { tileAvx2<R, Gru>(t, out); }
  };
};

#endif

// A tile of `rows` <= MR rows of the level's kernel.
template <int Level, bool Gru>
void tiles(const Tile& t, int rows, float* out) {
  simd::tileRows<typename Kernel<Level>::template Of<Gru>, Kernel<Level>::MR>(t, rows, out);
}

template <int Level>
RNN_INLINE void stepAt(const PackedStepArgs& a) {
  using K = Kernel<Level>;
  constexpr int L = simd::lanes(Level);
  if (a.kind == CellKind::Gru) {
    forTiles<K::MR, K::U, L, true>(a, tiles<Level, true>);
  } else {
    forTiles<K::MR, K::U, L, false>(a, tiles<Level, false>);
  }
}

template <int Level>
RNN_INLINE void projectAt(const ProjectionArgs& a) {
  using K = Kernel<Level>;
  if (a.kind == CellKind::Gru) {
    forProjectionTiles<K::MR, K::U>(a, tiles<Level, true>);
  } else {
    forProjectionTiles<K::MR, K::U>(a, tiles<Level, false>);
  }
}

// Each group of U units of a row: its tile assembled from the sums, then the same epilogue as a packed step.
template <int Level>
RNN_INLINE void gateSumsAt(const PackedStepArgs& a, const GateSumsArgs& s) {
  using K = Kernel<Level>;
  constexpr int U = K::U, L = simd::lanes(Level);
  const bool gru = a.kind == CellKind::Gru;
  const int G = gateCount(a.kind), H = a.H;
  alignas(64) float tile[4 * U];
  for (int b = 0; b < a.rows; ++b) {
    const float* xg = s.xg + b * s.xgStride;
    const float* hg = s.hg + b * s.hgStride;
    for (int j0 = s.j0; j0 < s.j1; j0 += U) {
      const int units = std::min(U, s.j1 - j0);
      for (int g = 0; g < G; ++g) {
        const int64_t col = int64_t(g) * H + j0;
        const bool hidden = !(gru && g == 2);
        for (int u = 0; u < units; ++u) {
          tile[g * U + u] = xg[col + u] + s.bias[col + u] + (hidden ? hg[col + u] : 0.f);
        }
        if (!hidden) {
          for (int u = 0; u < units; ++u) tile[3 * U + u] = hg[col + u] + s.biasHn[j0 + u];
        }
      }
      if (gru) {
        epilogue<U, L, true>(tile, 1, units, a, b, j0);
      } else {
        epilogue<U, L, false>(tile, 1, units, a, b, j0);
      }
    }
  }
}

RNN_SIMD_ENTRIES(StepEntry, stepAt);
RNN_SIMD_ENTRIES(ProjectionEntry, projectAt);
RNN_SIMD_ENTRIES(GateSumsEntry, gateSumsAt);

}  // namespace

// Packing reads G U source rows and writes panel rows of W floats. It goes in blocks of 16 k so that the block's
// destination lines stay in L1 (writing a column's whole K at a stride of W floats touched K lines per column
// and ran at a few GB/s, a large share of a batch-1 call); with AVX-512 a block of 16 units x 16 k is one
// register transpose.
constexpr int kPackK = 16;

// Columns [k0, k1) of gate g's rows of group q, one float at a time (the baseline, and any tail).
void packBlockScalar(const float* src, int K, int H, int U, int W, int q, int g, int k0, int k1, float* dst) {
  for (int u = 0; u < U; ++u) {
    const int j = q * U + u, col = g * U + u;
    const float* row = j < H ? src + (int64_t(g) * H + j) * K : nullptr;
    for (int k = k0; k < k1; ++k) dst[size_t(k) * W + col] = row ? row[k] : 0.f;
  }
}


// One weight matrix ([G H, K]) into group q's panel rows. Gates outer: a gate's 16 rows of the group are one
// contiguous block of the source, read front to back (k outer, gates inner read 4 x 16 rows at once, which the
// prefetchers followed less well: LSTM 1 x 256 fixed cost a call 0.131-0.140 -> 0.098-0.122 ms).
void packPart(const float* src, int K, int H, int U, int G, int q, float* dst) {
  const int W = G * U;
  const bool transpose = (q + 1) * U <= H && hasUnitsTranspose(U);
  for (int g = 0; g < G; ++g) {
    for (int k0 = 0; k0 < K; k0 += kPackK) {
      const int k1 = std::min(K, k0 + kPackK);
      if (transpose && k1 - k0 == 16) {
        // U units x 16 k of gate g: rows g H + U q.., columns k0.. into panel rows k0.., columns g U..
        transposeUnits(U, reinterpret_cast<const uint32_t*>(src + (int64_t(g) * H + q * U) * K + k0), K,
                       reinterpret_cast<uint32_t*>(dst + size_t(k0) * W + g * U), W);
        continue;
      }
      packBlockScalar(src, K, H, U, W, q, g, k0, k1, dst);
    }
  }
}

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
        if (j >= H) continue;
        b[col] = bias[int64_t(g) * H + j];
        if (kind == CellKind::Gru && g == 2) b[3 * U + u] = biasHn[j];
      }
    }
    packPart(wIh, I, H, U, G, q, panel);
    packPart(wHh, P, H, U, G, q, panel + size_t(I) * W);
  }
}

int packedUnits() { return simdLevel() == 1 ? 8 : kBaseUnits; }

void packInputPanels(CellKind kind, const float* wIh, int I, int H, int q0, int q1, float* panels) {
  const int U = packedUnits(), G = gateCount(kind);
  const size_t floats = panelFloats(kind, I, 0);
  for (int q = q0; q < q1; ++q) packPart(wIh, I, H, U, G, q, panels + q * floats);
}

void packedProjection(const ProjectionArgs& a) { simd::dispatch<ProjectionEntry>(simdLevel(), a); }

void packedStep(const PackedStepArgs& a) { simd::dispatch<StepEntry>(simdLevel(), a); }

void gateSumsStep(const PackedStepArgs& a, const GateSumsArgs& g) { simd::dispatch<GateSumsEntry>(simdLevel(), a, g); }

}  // namespace rnn::cpu
