// Hot element-wise loops are compiled three times on x86-64 (AVX-512, AVX2+FMA, baseline) and picked at run time,
// so one binary is fast on modern CPUs and still runs on old ones. (GCC's target_clones("arch=...")
// dispatches on the CPU model, which sends AMD CPUs to the baseline; simdLevel checks features instead.)
// impl is a template on the lanes of one register (16, 8, 4 floats), for code written with activations_vec.h.
#pragma once
#include "activations.h"
#include "simd_level.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define RNN_DEFINE_DISPATCHED_FOR(Args, name, impl)                                                \
  __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma,prefer-vector-width=512")))            \
  static void name##Avx512(const Args& a) { impl<16>(a); }                                         \
  __attribute__((target("avx2,fma"))) static void name##Avx2(const Args& a) { impl<8>(a); }        \
  static void name##Base(const Args& a) { impl<4>(a); }                                            \
  void name(const Args& a) {                                                                       \
    const int level = simdLevel();                                                                 \
    if (level == 2) name##Avx512(a);                                                               \
    else if (level == 1) name##Avx2(a);                                                            \
    else name##Base(a);                                                                            \
  }
#else
#define RNN_DEFINE_DISPATCHED_FOR(Args, name, impl)                                                \
  void name(const Args& a) { impl<4>(a); }
#endif
#define RNN_DEFINE_DISPATCHED(name, impl) RNN_DEFINE_DISPATCHED_FOR(StepArgs, name, impl)
