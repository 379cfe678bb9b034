// bfloat16 <-> float32 on the CPU, bit for bit as lib/half.ts converts (so a result rounded here equals the
// same float32 value converted in JS): round to nearest, ties to even, overflow to infinity, any NaN to the
// canonical quiet NaN 0x7fc0. Widening is exact (a bfloat16 is the top half of a float32). Scalar and GCC-vector
// versions, term for term the same, so a register's lanes and a group's scalar tail round alike.
// (VCVTNEPS2BF16 is not used: it flushes subnormals and keeps NaN payloads, so its bits would differ.)
#pragma once
#include <cstdint>
#include <cstring>

#include "activations.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu {

RNN_INLINE float bf16ToFloat(uint16_t bits) {
  const uint32_t u = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

RNN_INLINE uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// The two halves of a pair of bfloat16 read as one 32-bit word (element 2i in the low half, as VDPBF16PS
// reads it), each widened to float32.
RNN_INLINE float bf16PairLow(uint32_t pair) { return bf16ToFloat(uint16_t(pair & 0xffffu)); }
RNN_INLINE float bf16PairHigh(uint32_t pair) { return bf16ToFloat(uint16_t(pair >> 16)); }

// Elements k and k + 1 of a bfloat16 row as one word (any alignment).
RNN_INLINE uint32_t loadBf16Pair(const uint16_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

namespace vec {

// (GCC loses the vector attribute of a typedef declared inside the class template that uses it, so the types
// live in Bf16Types and the conversion takes both as explicit template arguments.)
template <class To, class From>
RNN_INLINE To convert(const From& v) {
  return __builtin_convertvector(v, To);
}

template <int L>
struct Bf16Types {
  typedef float F __attribute__((vector_size(4 * L)));
  typedef uint32_t U __attribute__((vector_size(4 * L)));
  typedef int32_t I __attribute__((vector_size(4 * L)));
  typedef uint16_t H __attribute__((vector_size(2 * L)));
};

// L lanes of float32 rounded to bfloat16 and stored, or loaded and widened; L = 1 is the scalar version.
template <int L>
struct Bf16 {
  using F = typename Bf16Types<L>::F;
  using U = typename Bf16Types<L>::U;
  using I = typename Bf16Types<L>::I;
  using H = typename Bf16Types<L>::H;

  static RNN_INLINE void store(uint16_t* p, const F& v) {
    U u;
    __builtin_memcpy(&u, &v, sizeof u);
    U rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const I nan = v != v;
    rounded = nan ? U{} + 0x7fc0u : rounded;
    const H h = convert<H, U>(rounded);
    __builtin_memcpy(p, &h, sizeof h);
  }

  static RNN_INLINE F load(const uint16_t* p) {
    H h;
    __builtin_memcpy(&h, p, sizeof h);
    const U u = convert<U, H>(h) << 16;
    F f;
    __builtin_memcpy(&f, &u, sizeof f);
    return f;
  }
};

template <>
struct Bf16<1> {
  typedef float F;
  static RNN_INLINE void store(uint16_t* p, float v) { *p = floatToBf16(v); }
  static RNN_INLINE float load(const uint16_t* p) { return bf16ToFloat(*p); }
};

}  // namespace vec

// Whole arrays (the input of a call given in float32, states, results): n elements.
void floatsToBf16(const float* src, uint16_t* dst, size_t n);
void bf16ToFloats(const uint16_t* src, float* dst, size_t n);

}  // namespace rnn::cpu

#pragma GCC diagnostic pop
