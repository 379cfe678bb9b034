#include "simd_level.h"

#include <cstdlib>
#include <cstring>

namespace rnn::cpu {

namespace {

int detect() {
#if defined(__x86_64__) && defined(__GNUC__)
  const int hardware = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                               __builtin_cpu_supports("avx512dq")
                           ? 2
                       : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1
                                                                                         : 0;
#else
  const int hardware = 0;
#endif
  const char* env = std::getenv("NODE_RNN_SIMD");
  int wanted = hardware;
  if (env && std::strcmp(env, "avx2") == 0) wanted = 1;
  if (env && std::strcmp(env, "base") == 0) wanted = 0;
  return wanted < hardware ? wanted : hardware;
}

bool detectBf16Dot() {
#if defined(__x86_64__) && defined(__GNUC__)
  const char* env = std::getenv("NODE_RNN_SIMD");
  if (env && std::strcmp(env, "avx512") == 0) return false;
  return simdLevel() == 2 && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}

bool detectInt8Dot() {
#if defined(__x86_64__) && defined(__GNUC__)
  const char* env = std::getenv("NODE_RNN_SIMD");
  if (env && std::strcmp(env, "avx512") == 0) return false;
  return avx512Bw() && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

}  // namespace

int simdLevel() {
  static const int level = detect();
  return level;
}

bool bf16Dot() {
  static const bool dot = detectBf16Dot();
  return dot;
}

bool avx512Bw() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool bw = simdLevel() == 2 && __builtin_cpu_supports("avx512bw");
  return bw;
#else
  return false;
#endif
}

bool int8Dot() {
  static const bool dot = detectInt8Dot();
  return dot;
}

}  // namespace rnn::cpu
