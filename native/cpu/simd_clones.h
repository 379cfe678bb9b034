// Hot element-wise loops are compiled twice on x86-64 (AVX2+FMA and baseline) and picked at run time,
// so one binary is fast on modern CPUs and still runs on old ones. (GCC's target_clones("arch=...")
// dispatches on the CPU model, which sends AMD CPUs to the baseline; this checks features instead.)
#pragma once
#include "activations.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define RNN_DEFINE_DISPATCHED(name, impl)                                             \
  __attribute__((target("avx2,fma"))) static void name##Avx2(const StepArgs& a) { impl(a); } \
  static void name##Base(const StepArgs& a) { impl(a); }                              \
  void name(const StepArgs& a) {                                                      \
    static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); \
    if (avx2) name##Avx2(a);                                                          \
    else name##Base(a);                                                               \
  }
#else
#define RNN_DEFINE_DISPATCHED(name, impl) \
  void name(const StepArgs& a) { impl(a); }
#endif
