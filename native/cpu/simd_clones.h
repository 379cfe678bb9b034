// Hot element-wise loops are compiled twice on x86-64 (AVX2+FMA and baseline) and picked at load
// time, so one binary is fast on modern CPUs and still runs on old ones.
#pragma once
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define RNN_SIMD_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define RNN_SIMD_CLONES
#endif
