// Hot loops are compiled once per instruction-set level on x86-64 and one is picked per call, so one binary is
// fast on modern CPUs and still runs on old ones. (GCC's target_clones("arch=...") dispatches on the CPU model,
// which sends AMD CPUs to the baseline; simd_level.h checks features instead.)
// The one way to do it here: the kernel is a function template on the level, body<level>(args), always inlined;
// RNN_SIMD_ENTRY wraps it in Entry<level>::run, the one function of that level that carries the level's target
// attribute (an attribute cannot depend on a template argument), so the whole body is compiled for the level; and
// dispatch calls the entry of the call's level. Anything a body calls that is not inlined into it (the tile
// kernels) carries the same target itself.
#pragma once
#include "activations.h"
#include "simd_level.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define RNN_SIMD_X86 1
#define RNN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define RNN_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma,prefer-vector-width=512")))
// the int8 kernels' AVX-512 level: VPMADDWD on zmm needs AVX512BW
#define RNN_TARGET_AVX512BW \
  __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512")))
#define RNN_TARGET_BF16DOT \
  __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx512bf16,avx2,fma,prefer-vector-width=512")))
#define RNN_TARGET_VNNI \
  __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx512vnni,avx2,fma,prefer-vector-width=512")))
#else
#define RNN_SIMD_X86 0
#endif

namespace rnn::cpu::simd {

// simdLevel()'s values, and kDot: AVX-512 with the kernel's dot product (bfloat16 VDPBF16PS, int8 VPDPBUSD).
enum Level : int { kBase = 0, kAvx2 = 1, kAvx512 = 2, kDot = 3 };

// float32 lanes of one register
constexpr int lanes(int level) { return level == kBase ? 4 : level == kAvx2 ? 8 : 16; }

// A tile of `rows` <= MR rows through Kernel::tile<R>, the level's tile kernel instantiated for exactly R rows (the
// float32, bfloat16 and int8 steps' register-blocked tiles).
template <class Kernel, int MR, class Tile, class Out>
RNN_INLINE void tileRows(const Tile& t, int rows, Out* out) {
  if constexpr (MR > 1) {
    if (rows == MR) return Kernel::template tile<MR>(t, out);
    return tileRows<Kernel, MR - 1>(t, rows, out);
  } else {
    Kernel::template tile<1>(t, out);
  }
}

// Entry<level>::run(args...) for the call's level; Top is the highest level the kernel has entries for.
template <template <int> class Entry, int Top = kAvx512, class... Args>
RNN_INLINE void dispatch([[maybe_unused]] int level, const Args&... args) {
#if RNN_SIMD_X86
  if constexpr (Top >= kDot) {
    if (level >= kDot) return Entry<kDot>::run(args...);
  }
  if (level >= kAvx512) return Entry<kAvx512>::run(args...);
  if (level == kAvx2) return Entry<kAvx2>::run(args...);
#endif
  Entry<kBase>::run(args...);
}

}  // namespace rnn::cpu::simd

// Entry<level>::run(args...) = body<level>(args...), compiled with Target (RNN_TARGET_..., empty for the baseline).
#define RNN_SIMD_ENTRY(Entry, level, Target, body)            \
  template <>                                                  \
  struct Entry<level> {                                        \
    template <class... Args>                                   \
    Target static void run(const Args&... args) {              \
      body<level>(args...);                                    \
    }                                                          \
  }

// The baseline, AVX2 and AVX-512 entries (x86-64; elsewhere the baseline only).
#if RNN_SIMD_X86
#define RNN_SIMD_ENTRIES(Entry, body)                                             \
  template <int>                                                                  \
  struct Entry;                                                                   \
  RNN_SIMD_ENTRY(Entry, ::rnn::cpu::simd::kBase, , body);                         \
  RNN_SIMD_ENTRY(Entry, ::rnn::cpu::simd::kAvx2, RNN_TARGET_AVX2, body);          \
  RNN_SIMD_ENTRY(Entry, ::rnn::cpu::simd::kAvx512, RNN_TARGET_AVX512, body)
#else
#define RNN_SIMD_ENTRIES(Entry, body) \
  template <int>                      \
  struct Entry;                       \
  RNN_SIMD_ENTRY(Entry, ::rnn::cpu::simd::kBase, , body)
#endif

// void name(const Args&): body<level> at simdLevel() (element-wise loops, written with activations_vec.h).
#define RNN_DEFINE_DISPATCHED_FOR(Args, name, body) \
  namespace {                                       \
  RNN_SIMD_ENTRIES(name##Entry, body);              \
  }                                                 \
  void name(const Args& a) { ::rnn::cpu::simd::dispatch<name##Entry>(::rnn::cpu::simdLevel(), a); }
#define RNN_DEFINE_DISPATCHED(name, body) RNN_DEFINE_DISPATCHED_FOR(StepArgs, name, body)
