// The int8 quantization, GEMM and step: tiles of MR rows x one unit group (int8_tiles.h), each followed by its
// float32 epilogue. Compiled once per kernel family (simd_dispatch.h); int8Family() picks one per call.
//
// Levels must agree bit for bit. GCC would contract a * b + c into one FMA where the target has FMAs (AVX2,
// AVX-512) but not in the baseline, and the results would differ in the last bit (and then more, through the
// recurrence); so contraction is off in this file, and the multiply-adds worth fusing are written as explicit
// fused multiply-adds (activations.h's Fused), which round once at every level.
#pragma GCC optimize("fp-contract=off")

#include "int8_step.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <type_traits>

#include "activations_vec.h"
#include "cell_epilogue.h"
#include "int8_tiles.h"
#include "prefetch.h"
#include "simd_dispatch.h"
#include "simd_level.h"

// Wide vectors pass between always-inlined helpers only, so GCC's ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu {

namespace {

// ---- quantization of activation rows ----

// (v + kRound) - kRound rounds |v| < 2^22 to the nearest integer, ties to even (the float32 ulp at 1.5 * 2^23 is 1).
constexpr float kRound = 12582912.f;

// max and or over a vector's lanes, halving it (one lane: the value itself)
template <int L, class V>
RNN_INLINE auto foldLanes(const V& v) {
  if constexpr (L == 1) {
    return v;
  } else {
    constexpr bool kFloat = std::is_floating_point_v<std::remove_reference_t<decltype(v[0])>>;
    using H = std::conditional_t<kFloat, typename vec::Types<L / 2>::F, typename vec::Types<L / 2>::I>;
    H lo, hi;
    __builtin_memcpy(&lo, &v, sizeof lo);
    __builtin_memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    if constexpr (kFloat) {
      return foldLanes<L / 2>(hi > lo ? hi : lo);
    } else {
      return foldLanes<L / 2>(hi | lo);
    }
  }
}

template <int L>
RNN_INLINE void quantizeRow(const float* x, int K, uint8_t* q, int64_t rowBytes, float* scale, bool vnni) {
  using F = typename vec::Types<L>::F;
  using I = typename vec::Types<L>::I;
  // max |x|, and whether any value is NaN or infinite (NaN fails every comparison, so it is tracked apart)
  F mv = F{};
  I badv = I{};
  int k = 0;
  for (; k + L <= K; k += L) {
    F v = vec::load<F>(x + k);
    v = v < 0.f ? -v : v;
    badv |= ~(v <= FLT_MAX);
    mv = v > mv ? v : mv;
  }
  // (no lane of mv is NaN or negative, so the order of the maxima does not matter)
  float mx = 0.f;
  bool bad = false;
  if constexpr (L > 1) {
    mx = foldLanes<L>(mv);
    bad = foldLanes<L>(badv) != 0;
  }
  for (int j = k; j < K; ++j) {
    const float v = std::fabs(x[j]);
    bad = bad || !(v <= FLT_MAX);
    mx = v > mx ? v : mx;
  }
  const float inv = 127.f / mx;
  if (bad || !(inv <= FLT_MAX)) {
    // zeros (or a subnormal maximum): scale 0; NaN or infinity: scale NaN, which every result of the row takes
    *scale = bad ? NAN : 0.f;
    std::fill(q, q + rowBytes, vnni ? uint8_t(128) : uint8_t(0));
    return;
  }
  *scale = mx / 127.f;
  k = 0;
  if (vnni) {
    typedef uint8_t Bytes __attribute__((vector_size(L)));
    // x * inv + (kRound + 128) rounds like x * inv + kRound (both addends even integers where the ulp is 1), and
    // its bits less kRound's are the rounded value + 128: the byte without a conversion back from float. ((I)r is
    // a vector cast, the same bits; with the subtraction GCC 12 stores the low bytes with one VPMOVDB, without it
    // it moved them lane by lane.)
    constexpr int32_t kRoundBits = 0x4b400000;
    for (; k + L <= K; k += L) {
      const F r = vec::load<F>(x + k) * inv + (kRound + 128.f);
      const Bytes b = __builtin_convertvector((I)r - kRoundBits, Bytes);
      std::memcpy(q + k, &b, sizeof b);
    }
    for (; k < K; ++k) q[k] = uint8_t(int((x[k] * inv + kRound) - kRound) + 128);
    std::fill(q + K, q + rowBytes, uint8_t(128));
  } else {
    typedef int16_t Shorts __attribute__((vector_size(2 * L)));
    int16_t* s = reinterpret_cast<int16_t*>(q);
    for (; k + L <= K; k += L) {
      const F r = (vec::load<F>(x + k) * inv + kRound) - kRound;
      const Shorts v = __builtin_convertvector(__builtin_convertvector(r, I), Shorts);
      std::memcpy(s + k, &v, sizeof v);
    }
    for (; k < K; ++k) s[k] = int16_t(int((x[k] * inv + kRound) - kRound));
    std::fill(s + K, s + rowBytes / 2, int16_t(0));
  }
}

template <int Level>
RNN_INLINE void quantizeImpl(const Int8QuantizeArgs& a) {
  constexpr int L = simd::lanes(Level);
  const bool vnni = int8Family() == Int8Family::Vnni;
  const int64_t rowBytes = int8RowBytes(a.K);
  // a step's h (prefetch.h); x's rows for a whole sequence are many lines, and read in order
  if (a.rows * int64_t(a.K) <= 1024) {
    for (int64_t r = 0; r < a.rows; ++r) prefetchSmall(a.x + r * a.xStride, sizeof(float) * a.K);
  }
  for (int64_t r = 0; r < a.rows; ++r) {
    quantizeRow<L>(a.x + r * a.xStride, a.K, a.q + r * a.qStride, rowBytes, a.scales + r * a.scaleStride, vnni);
  }
}

RNN_DEFINE_DISPATCHED_FOR(Int8QuantizeArgs, quantizeRows, quantizeImpl)

// ---- GEMM and step ----

using namespace cell_dispatch;

// The exact sum (minus Vnni's offset term) as float32.
RNN_INLINE float sumOf(int32_t sum, int32_t correction) { return float(int32_t(uint32_t(sum) - uint32_t(correction))); }

// The one rounding sequence every level uses: sum * (row scale * weight scale), or fused with an addend.
RNN_INLINE float dequantize(int32_t sum, int32_t correction, float rowScale, float weightScale) {
  return sumOf(sum, correction) * (rowScale * weightScale);
}

RNN_INLINE float dequantizeAdd(int32_t sum, int32_t correction, float rowScale, float weightScale, float add) {
  return Fused::madd(sumOf(sum, correction), rowScale * weightScale, add);
}

// dst[u] for u < units: sum u dequantized, plus add[u] when add is not null. L units per register while whole
// registers remain (the same operations lane by lane, so the same bits as one at a time), then one by one.
template <int L>
RNN_INLINE void dequantizeUnits(const int32_t* sum, const int32_t* corr, float rowScale, const float* ws, const float* add,
                                float* dst, int units) {
  int u = 0;
  if constexpr (L > 1) {
    using F = typename vec::Types<L>::F;
    using I = typename vec::Types<L>::I;
    typedef uint32_t Bits __attribute__((vector_size(4 * L)));
    for (; u + L <= units; u += L) {
      Bits a, c;
      F w, x;
      __builtin_memcpy(&a, sum + u, sizeof a);
      __builtin_memcpy(&c, corr + u, sizeof c);
      __builtin_memcpy(&w, ws + u, sizeof w);
      const F value = __builtin_convertvector(reinterpret_cast<I&>(a -= c), F), scale = rowScale * w;
      if (add) {
        __builtin_memcpy(&x, add + u, sizeof x);
        x = Fused::madd(value, scale, x);
      } else {
        x = value * scale;
      }
      __builtin_memcpy(dst + u, &x, sizeof x);
    }
  }
  for (; u < units; ++u) {
    dst[u] = add ? dequantizeAdd(sum[u], corr[u], rowScale, ws[u], add[u]) : dequantize(sum[u], corr[u], rowScale, ws[u]);
  }
}

// Groups outer (a panel is reused by every row tile while it is in cache), row tiles inner.
template <int L, int U, int MR, int G, class Kernel>
RNN_INLINE void gemmTiles(const Int8GemmArgs& a, Kernel&& kernel) {
  constexpr int W = G * U;
  alignas(64) int32_t acc[MR * W];
  const int N = a.w.N;
  for (int q = a.q0; q < a.q1; ++q) {
    const int unit0 = q * U, units = std::min(U, N - unit0);
    const int32_t* corrections = a.w.corrections(q);
    const float* scales = a.w.scales(q);
    for (int r = 0; r < a.rows; r += MR) {
      const int rows = std::min(MR, a.rows - r);
      kernel(int8::Tile{a.a + r * a.aStride, a.aStride, a.w.steps, a.w.panel(q)}, rows, acc);
      for (int m = 0; m < rows; ++m) {
        const float s = a.aScale[(r + m) * a.aScaleStride];
        for (int g = 0; g < G; ++g) {
          const int32_t* sum = acc + m * W + g * U;
          const int32_t* corr = corrections + g * U;
          const float* ws = scales + g * U;
          float* dst = a.out + (r + m) * a.outStride + g * a.gateStride + unit0;
          dequantizeUnits<L>(sum, corr, s, ws, a.bias ? a.bias + int64_t(g) * N + unit0 : nullptr, dst, units);
        }
      }
    }
  }
}

// One whole group's value (L units from u) of one row: the int32 sum less its correction, as float32.
template <int L>
RNN_INLINE typename vec::Types<L>::F sumsOf(const int32_t* sum, const int32_t* corr) {
  using I = typename vec::Types<L>::I;
  typedef uint32_t Bits __attribute__((vector_size(4 * L)));
  Bits a, c;
  __builtin_memcpy(&a, sum, sizeof a);
  __builtin_memcpy(&c, corr, sizeof c);
  a -= c;
  return __builtin_convertvector(reinterpret_cast<I&>(a), typename vec::Types<L>::F);
}

// A whole group's gate sums of one row from its tile sums: the operations of dequantizeUnits (x's part with its
// bias first, then h's part added to it), so the same bits, with x's part kept in registers instead of stored
// and read back, every trip count known here (int8 LSTM 100x64x256, 2 threads, perf: the two passes were 11% of
// the call, this is 8%; alternating addons 7192 -> 7043 us mean minimum, 6 of 8 rounds; GRU within noise).
template <int L, int U, int CellT>
RNN_INLINE void dequantizeGroup(const int32_t* accX, const int32_t* xCorr, float sx, const float* xScales,
                                const float* xBias, int64_t H, const float* xg, int64_t gateStride, const int32_t* accH,
                                const int32_t* hCorr, float sh, const float* hScales, const float* biasHn,
                                float* gates) {
  using F = typename vec::Types<L>::F;
  constexpr int G = gatesOf(CellT);
  for (int u = 0; u < U; u += L) {
    for (int g = 0; g < G; ++g) {
      const int j = g * U + u;
      F x;
      if (accX) {
        const F scale = sx * vec::load<F>(xScales + j);
        const F value = sumsOf<L>(accX + j, xCorr + j);
        x = xBias ? Fused::madd(value, scale, vec::load<F>(xBias + g * H + u)) : value * scale;
      } else {
        x = vec::load<F>(xg + g * gateStride + u);
      }
      const F value = sumsOf<L>(accH + j, hCorr + j), scale = sh * vec::load<F>(hScales + j);
      if (CellT == kGru && g == 2) {
        vec::store(gates + j, x);
        vec::store(gates + 3 * U + u,
                   biasHn ? Fused::madd(value, scale, vec::load<F>(biasHn + u)) : value * scale);
      } else {
        vec::store(gates + j, Fused::madd(value, scale, x));
      }
    }
  }
}

template <int L, int U, int MR, int CellT, class Kernel>
RNN_INLINE void stepTiles(const Int8StepArgs& a, Kernel&& kernel) {
  constexpr int G = gatesOf(CellT), W = G * U;
  alignas(64) int32_t acc[MR * W];
  alignas(64) int32_t accX[MR * W];
  alignas(64) float gatesAll[MR * 4 * U];
  const int H = a.H;
  const Int8StepInput& in = a.input;
  const auto rowAt = [&](const float* gates, int64_t b, int u0) {
    return cell::Row<cell::FloatH>{gates,
                                   CellT == kLstm ? a.c + b * a.H + u0 : nullptr,
                                   CellT == kGru ? a.hPrev + b * a.hPrevStride + u0 : nullptr,
                                   {a.hNew + b * a.hNewStride + u0},
                                   nullptr,
                                   0};
  };
  // one row: each group's gates offered in turn, their cell updates paired (cell::GroupPairs)
  const auto rowOf = [&](const float* gates, int u0) { return rowAt(gates, 0, u0); };
  cell::GroupPairs<Fused, L, U, CellT, false, 4 * U, decltype(rowOf)> pairs(H, rowOf);
  for (int q = a.q0; q < a.q1; ++q) {
    const int unit0 = q * U, units = std::min(U, H - unit0);
    const int32_t* corrections = a.w.corrections(q);
    const float* scales = a.w.scales(q);
    // (out of the row loop: int8Units() is a call, across which every vector register would be spilled)
    const int32_t* xCorrections = in.x ? in.w.corrections(q) : nullptr;
    const float* xScales = in.x ? in.w.scales(q) : nullptr;
    for (int r = 0; r < a.rows; r += MR) {
      const int rows = std::min(MR, a.rows - r);
      if (in.x) kernel(int8::Tile{in.x + r * in.xStride, in.xStride, in.w.steps, in.w.panel(q)}, rows, accX);
      kernel(int8::Tile{a.h + r * a.hStride, a.hStride, a.w.steps, a.w.panel(q)}, rows, acc);
      // every row's gate sums first, then every row's cell update: the updates of a tile's rows are independent
      // chains of ~170 instructions each (five exps and divisions), which the core overlaps when they follow one
      // another (int8 100 steps, batch 64, 2 threads: LSTM H 256 1.13x, H 512 1.10x, GRU 1.08x, LSTM batch 8 1.10x faster
      // than each row's sums and update together; same bits), two rows at a time as one Twin (cell::updateRows)
      for (int m = 0; m < rows; ++m) {
        float* const gates = gatesAll + m * 4 * U;
        const int64_t b = r + m;
        const float s = a.hScale[b];
        if (units == U) {
          const float* xBias = in.bias ? in.bias + unit0 : nullptr;
          const float* xg = in.x ? nullptr : a.xg + b * a.xgStride + unit0;
          dequantizeGroup<L, U, CellT>(in.x ? accX + m * W : nullptr, xCorrections,
                                       in.x ? in.xScale[b * in.xScaleStride] : 0.f, xScales, xBias, H, xg, H,
                                       acc + m * W, corrections, s, scales, a.biasHn ? a.biasHn + unit0 : nullptr,
                                       gates);
          continue;
        }
        // the input part of each gate: from xg, or dequantized here from this tile's x sums (as int8Gemm would)
        const float* xg;
        int64_t gateStride;
        if (in.x) {
          const float sx = in.xScale[b * in.xScaleStride];
          for (int g = 0; g < G; ++g) {
            dequantizeUnits<L>(accX + m * W + g * U, xCorrections + g * U, sx, xScales + g * U,
                               in.bias ? in.bias + int64_t(g) * H + unit0 : nullptr, gates + g * U, units);
          }
          xg = gates;
          gateStride = U;
        } else {
          xg = a.xg + b * a.xgStride + unit0;
          gateStride = H;
        }
        for (int g = 0; g < G; ++g) {
          const int32_t* sum = acc + m * W + g * U;
          const int32_t* corr = corrections + g * U;
          const float* ws = scales + g * U;
          if (CellT == kGru && g == 2) {
            // r scales W_hn h + b_hn, so it stays apart from the input part
            if (!in.x) std::copy(xg + 2 * H, xg + 2 * H + units, gates + 2 * U);
            dequantizeUnits<L>(sum, corr, s, ws, a.biasHn ? a.biasHn + unit0 : nullptr, gates + 3 * U, units);
          } else {
            dequantizeUnits<L>(sum, corr, s, ws, xg + g * gateStride, gates + g * U, units);
          }
        }
      }
      if (a.rows == 1) {
        pairs.offer(gatesAll, 1, unit0);
        continue;
      }
      cell::updateRows<Fused, L, U, CellT, false>(
          rows, units, [&](int m) { return rowAt(gatesAll + m * 4 * U, r + m, unit0); });
    }
  }
  pairs.finish();
}

// One level's kernels, Step<cell>::run and Gemm<gates>::run: tiles of MR rows x U units, L lanes per register.
template <class Kernel, int MR, int L, int U>
struct Level {
  template <int CellT>
  struct Step {
    static RNN_INLINE void run(const Int8StepArgs& a) {
      stepTiles<L, U, MR, CellT>(a, [](const int8::Tile& t, int rows, int32_t* out) {
        simd::tileRows<typename Kernel::template Of<gatesOf(CellT)>, MR>(t, rows, out);
      });
    }
  };
  template <int G>
  struct Gemm {
    static RNN_INLINE void run(const Int8GemmArgs& a) {
      gemmTiles<L, U, MR, G>(a, [](const int8::Tile& t, int rows, int32_t* out) {
        simd::tileRows<typename Kernel::template Of<G>, MR>(t, rows, out);
      });
    }
  };
};

// The kernel families are the dispatch levels (int8_pack.h).
static_assert(int(Int8Family::Base) == simd::kBase && int(Int8Family::Avx2) == simd::kAvx2 &&
              int(Int8Family::Avx512) == simd::kAvx512 && int(Int8Family::Vnni) == simd::kDot);

template <int Lv>
struct At;

// ---- baseline: 16 units, 4 rows, vectors of 4 ----

struct BaseKernel {
  template <int G>
  struct Of {
    template <int R>
    static void tile(const int8::Tile& t, int32_t* out) { int8::tilePlain<16, R, G>(t, out); }
  };
};
template <> struct At<simd::kBase> : Level<BaseKernel, 4, 4, 16> {};

#if RNN_SIMD_X86

// ---- AVX2: 8 units, 3 rows ----

struct Avx2Kernel {
  template <int G>
  struct Of {
    template <int R>
    RNN_TARGET_AVX2 static void tile(const int8::Tile& t, int32_t* out) { int8::tilePairs256<R, G>(t, out); }
  };
};
template <> struct At<simd::kAvx2> : Level<Avx2Kernel, 3, 8, 8> {};

// ---- AVX512BW without VNNI: 16 units, 4 rows (with 6, GCC spilled the accumulators every k-step) ----

struct Avx512Kernel {
  template <int G>
  struct Of {
    template <int R>
    RNN_TARGET_AVX512BW static void tile(const int8::Tile& t, int32_t* out) { int8::tilePairs512<R, G>(t, out); }
  };
};
template <> struct At<simd::kAvx512> : Level<Avx512Kernel, 4, 16, 16> {};

// ---- AVX512_VNNI: 16 units, 6 rows ----

struct VnniKernel {
  template <int G>
  struct Of {
    template <int R>
    RNN_TARGET_VNNI static void tile(const int8::Tile& t, int32_t* out) { int8::tileVnni<R, G>(t, out); }
  };
};
template <> struct At<simd::kDot> : Level<VnniKernel, 6, 16, 16> {};

#endif

template <int Lv>
RNN_INLINE void stepAt(const Int8StepArgs& a) {
  forCell<At<Lv>::template Step>(a.kind, a);
}

template <int Lv>
RNN_INLINE void gemmAt(const Int8GemmArgs& a) {
  forGates<At<Lv>::template Gemm>(a.w.gates, a);
}

// The AVX-512 levels need AVX512BW (VPMADDWD or VPDPBUSD on zmm).
template <int>
struct StepEntry;
template <int>
struct GemmEntry;
RNN_SIMD_ENTRY(StepEntry, simd::kBase, , stepAt);
RNN_SIMD_ENTRY(GemmEntry, simd::kBase, , gemmAt);
#if RNN_SIMD_X86
RNN_SIMD_ENTRY(StepEntry, simd::kAvx2, RNN_TARGET_AVX2, stepAt);
RNN_SIMD_ENTRY(GemmEntry, simd::kAvx2, RNN_TARGET_AVX2, gemmAt);
RNN_SIMD_ENTRY(StepEntry, simd::kAvx512, RNN_TARGET_AVX512BW, stepAt);
RNN_SIMD_ENTRY(GemmEntry, simd::kAvx512, RNN_TARGET_AVX512BW, gemmAt);
RNN_SIMD_ENTRY(StepEntry, simd::kDot, RNN_TARGET_VNNI, stepAt);
RNN_SIMD_ENTRY(GemmEntry, simd::kDot, RNN_TARGET_VNNI, gemmAt);
#endif

}  // namespace

void int8QuantizeRows(const Int8QuantizeArgs& a) { quantizeRows(a); }

void int8Step(const Int8StepArgs& a) { simd::dispatch<StepEntry, simd::kDot>(int(int8Family()), a); }

void int8Gemm(const Int8GemmArgs& a) { simd::dispatch<GemmEntry, simd::kDot>(int(int8Family()), a); }

}  // namespace rnn::cpu
