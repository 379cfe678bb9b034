// The bfloat16 step and projections: tiles of MR rows x one unit group (bf16_tiles.h), each followed by its
// epilogue on float32 values: the cell update (LSTM, GRU, Elman tanh/relu), or a plain copy / rounding for the
// projections. Compiled once per instruction-set level (simd_dispatch.h); bf16Dot()/simdLevel() pick one per call.
// Contraction off: every FMA of this file is written (activations.h, Contract), none left to GCC's choice.
#pragma GCC optimize("fp-contract=off")

#include "bf16_step.h"

#include <algorithm>

#include "bf16_convert.h"
#include "bf16_tiles.h"
#include "cell_epilogue.h"
#include "prefetch.h"
#include "simd_dispatch.h"

#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu {

namespace {

using bf16::Tile;
using bf16::blocksOf;

using namespace cell_dispatch;

// Batch row b's gate sums at g for the group from unit0 on, and where its c and h are.
template <int CellT>
RNN_INLINE cell::Row<cell::Bf16H> cellRow(const float* g, const Bf16StepArgs& a, int64_t b, int unit0) {
  constexpr bool lstm = CellT == kLstm, gru = CellT == kGru;
  return {g,
          lstm ? a.c + b * a.H + unit0 : nullptr,
          gru ? a.hPrev + b * a.P + unit0 : nullptr,
          {a.hNew + b * a.hNewStride + unit0, gru ? a.hNewF + b * a.P + unit0 : nullptr},
          nullptr,
          0};
}

// The tile's rows through the cell (cell_epilogue.h), h rounded to bfloat16.
template <int L, int U, int CellT>
RNN_INLINE void cellEpilogue(const float* tile, int rows, int units, const Bf16StepArgs& a, int row0, int unit0) {
  constexpr int NC = blocksOf(gatesOf(CellT)) * U;
  cell::updateRows<ContractAt<L>, L, U, CellT, false>(
      rows, units, [&](int m) { return cellRow<CellT>(tile + m * NC, a, row0 + m, unit0); });
}

// Groups outer (a panel is reused by every row tile while it is in cache), row tiles inner. A single row goes
// through up to NG groups per kernel call where the kernel has such a form (rowKernel; bf16_tiles.h's rowDot).
template <int L, int U, int MR, int CellT, int NG, class Kernel, class RowKernel>
RNN_INLINE void stepTiles(const Bf16StepArgs& a, Kernel&& kernel, RowKernel&& rowKernel) {
  constexpr int G = gatesOf(CellT), NC = blocksOf(G) * U;
  alignas(64) float tile[std::max(MR, NG) * NC];
  const size_t words = bf16PanelWords(G, a.I, a.P);
  const XgLayout& xl = a.xgLayout;
  prefetchSmall(a.h, sizeof(uint16_t) * a.rows * a.P);
  if constexpr (NG > 1) {
    if (a.rows == 1) {
      Tile ts[NG];
      // their cell updates paired (cell::GroupPairs), a chunk's odd group with the next chunk's first
      const auto rowOf = [&](const float* g, int unit0) { return cellRow<CellT>(g, a, 0, unit0); };
      cell::GroupPairs<ContractAt<L>, L, U, CellT, false, NC, decltype(rowOf)> pairs(a.H, rowOf);
      for (int q0 = a.q0; q0 < a.q1; q0 += NG) {
        const int n = std::min(NG, a.q1 - q0);
        for (int i = 0; i < n; ++i) {
          const int q = q0 + i;
          ts[i] = Tile{a.x, a.xStride, a.I, a.h, a.P, a.P, a.panels + q * words, a.bias + q * NC,
                       a.xg ? a.xg + q * xl.groupStride : nullptr, xl.rowStride, xl.gateStride};
        }
        rowKernel(ts, n, tile);
        pairs.offer(tile, n, q0 * U);
      }
      pairs.finish();
      return;
    }
  }
  for (int q = a.q0; q < a.q1; ++q) {
    const int unit0 = q * U, units = std::min(U, a.H - unit0);
    for (int r = 0; r < a.rows; r += MR) {
      const int rows = std::min(MR, a.rows - r);
      const Tile t{a.x ? a.x + r * a.xStride : nullptr, a.xStride, a.I, a.h + int64_t(r) * a.P, a.P, a.P,
                   a.panels + q * words, a.bias + q * NC, a.xg ? a.xg + q * xl.groupStride + r * xl.rowStride : nullptr,
                   xl.rowStride, xl.gateStride};
      kernel(t, rows, tile);
      cellEpilogue<L, U, CellT>(tile, rows, units, a, r, unit0);
    }
  }
}

// The projections: gate blocks copied out in float32 (only the group's units, so a group's tail never writes
// into the next gate's columns), or one block rounded to bfloat16.
template <int L, int U, int MR, int G, class Kernel>
RNN_INLINE void projectionTiles(const Bf16ProjectionArgs& a, Kernel&& kernel) {
  constexpr int NC = blocksOf(G) * U;
  alignas(64) float tile[MR * NC];
  const size_t words = bf16PanelWords(G, a.K, 0);
  const XgLayout& xl = a.outLayout;
  for (int q = a.q0; q < a.q1; ++q) {
    const int unit0 = q * U, units = std::min(U, a.N - unit0);
    for (int r = 0; r < a.rows; r += MR) {
      const int rows = std::min(MR, a.rows - r);
      const Tile t{a.a + r * a.aStride, a.aStride, a.K, nullptr, 0, 0, a.panels + q * words, nullptr, nullptr, 0, 0};
      kernel(t, rows, tile);
      for (int m = 0; m < rows; ++m) {
        const float* row = tile + m * NC;
        const int64_t at = q * xl.groupStride + (r + m) * xl.rowStride;
        if (a.outBf16) {
          uint16_t* dst = a.outBf16 + at;
          int j = 0;
          if (units == U) {
            for (; j < U; j += L) vec::Bf16<L>::store(dst + j, vec::Lanes<L>::load(row + j));
          }
          for (; j < units; ++j) dst[j] = floatToBf16(row[j]);
        } else {
          float* dst = a.out + at;
          for (int g = 0; g < G; ++g) std::copy(row + g * U, row + g * U + units, dst + g * xl.gateStride);
        }
      }
    }
  }
}

// One level's kernels, Step<cell>::run and Project<gates>::run: tiles of MR rows x U units, L lanes per register.
template <class Kernel, int MR, int L, int U>
struct Level {
  template <int CellT>
  struct Step {
    static RNN_INLINE void run(const Bf16StepArgs& a) {
      using Of = typename Kernel::template Of<gatesOf(CellT)>;
      stepTiles<L, U, MR, CellT, Kernel::kRowGroups>(
          a, [](const Tile& t, int rows, float* out) { simd::tileRows<Of, MR>(t, rows, out); },
          [](const Tile* ts, int n, float* out) {
            if constexpr (Kernel::kRowGroups > 1) Of::rowGroups(ts, n, out);
          });
    }
  };
  template <int G>
  struct Project {
    static RNN_INLINE void run(const Bf16ProjectionArgs& a) {
      projectionTiles<L, U, MR, G>(a, [](const Tile& t, int rows, float* out) {
        simd::tileRows<typename Kernel::template Of<G>, MR>(t, rows, out);
      });
    }
  };
};

template <int Lv>
struct At;

// ---- baseline: 16 units, 4 rows, vectors of 4 ----

struct BaseKernel {
  static constexpr int kRowGroups = 1;
  template <int G>
  struct Of {
    template <int R>
    static void tile(const Tile& t, float* out) { bf16::tileWide<4, 16, R, G>(t, out); }
  };
};
template <> struct At<simd::kBase> : Level<BaseKernel, 4, 4, 16> {};

#if RNN_SIMD_X86

// ---- AVX2: 8 units, 3 rows ----

struct Avx2Kernel {
  static constexpr int kRowGroups = 1;
  template <int G>
  struct Of {
    template <int R>
    RNN_TARGET_AVX2 static void tile(const Tile& t, float* out) { bf16::tileWide<8, 8, R, G>(t, out); }
  };
};
template <> struct At<simd::kAvx2> : Level<Avx2Kernel, 3, 8, 8> {};

// ---- AVX-512 without the BF16 dot product: 16 units, 4 rows (two weight vectors per gate and pair) ----

struct Avx512Kernel {
  static constexpr int kRowGroups = 1;
  template <int G>
  struct Of {
    template <int R>
    RNN_TARGET_AVX512 static void tile(const Tile& t, float* out) { bf16::tileWide<16, 16, R, G>(t, out); }
  };
};
template <> struct At<simd::kAvx512> : Level<Avx512Kernel, 4, 16, 16> {};

// ---- AVX512_BF16: 16 units, 6 rows ----

struct DotKernel {
  static constexpr int kRowGroups = 3;  // a single row: 3 groups' sums (rowDot, bf16_tiles.h), then their cell updates
  template <int G>
  struct Of {
    template <int R>
    static void tile(const Tile& t, float* out) { bf16::tileDot<R, G>(t, out); }
    static void rowGroups(const Tile* ts, int n, float* out) {
      for (int i = 0; i < n; ++i) bf16::rowDot<G>(ts[i], out + i * blocksOf(G) * 16);
    }
  };
};
template <> struct At<simd::kDot> : Level<DotKernel, 6, 16, 16> {};

#endif

template <int Lv>
RNN_INLINE void stepAt(const Bf16StepArgs& a) {
  forCell<At<Lv>::template Step>(a.kind, a);
}

template <int Lv>
RNN_INLINE void projectAt(const Bf16ProjectionArgs& a) {
  forGates<At<Lv>::template Project>(a.gates, a);
}

RNN_SIMD_ENTRIES(StepEntry, stepAt);
RNN_SIMD_ENTRIES(ProjectionEntry, projectAt);
#if RNN_SIMD_X86
RNN_SIMD_ENTRY(StepEntry, simd::kDot, RNN_TARGET_BF16DOT, stepAt);
RNN_SIMD_ENTRY(ProjectionEntry, simd::kDot, RNN_TARGET_BF16DOT, projectAt);
#endif

// simdLevel(), or kDot where VDPBF16PS runs
int kernelLevel() { return bf16Dot() ? simd::kDot : simdLevel(); }

}  // namespace

int bf16Units() { return simdLevel() == 1 ? 8 : 16; }

void bf16Step(const Bf16StepArgs& a) { simd::dispatch<StepEntry, simd::kDot>(kernelLevel(), a); }

void bf16Projection(const Bf16ProjectionArgs& a) { simd::dispatch<ProjectionEntry, simd::kDot>(kernelLevel(), a); }

}  // namespace rnn::cpu
