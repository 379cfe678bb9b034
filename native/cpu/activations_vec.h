// activations.h's exp / sigmoid / tanh on whole SIMD registers (GCC vector extensions), term for term the same
// formulas. The scalar versions are not vectorised by GCC inside functions compiled for AVX2 / AVX-512 (it
// reports "control flow in loop"), which made the cell's epilogue cost as much as the step's matrix-vector
// product at batch 1. Instantiated with 4, 8 or 16 lanes; a function with the matching target attribute gets
// xmm / ymm / zmm code, any other gets it split into what the target has.
#pragma once
#include <cstdint>

#include "activations.h"

// Every function here is inlined into its caller, so the ABI of passing wide vectors by value (which GCC warns
// about outside AVX / AVX-512 functions) never applies.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu::vec {

template <int N>
struct Types {
  typedef float F __attribute__((vector_size(4 * N)));
  typedef int32_t I __attribute__((vector_size(4 * N)));
};

template <class F>
RNN_INLINE F splat(float v) {
  return F{} + v;
}

template <class F, class I>
RNN_INLINE F exp(const F& input) {
  const I nan = input != input;
  F x = input;
  x = nan ? splat<F>(0.f) : x;
  using namespace fastmath;
  x = x > kExpMax ? splat<F>(kExpMax) : x;
  x = x < kExpMin ? splat<F>(kExpMin) : x;
  const F t = x * kLog2e;
  const I n = __builtin_convertvector(t + (t >= 0.f ? splat<F>(0.5f) : splat<F>(-0.5f)), I);
  const F fn = __builtin_convertvector(n, F);
  F r = x - fn * kLn2Hi;
  r = r - fn * kLn2Lo;
  F y = splat<F>(kExpPoly[0]);
  y = y * r + kExpPoly[1];
  y = y * r + kExpPoly[2];
  y = y * r + kExpPoly[3];
  y = y * r + kExpPoly[4];
  y = y * r + kExpPoly[5];
  y = y * r * r + r + 1.f;
  // n + 127 is in [1, 255] after the clamps, so the shift never overflows; the cast reinterprets the bits
  const F result = y * (F)((n + 127) << 23);
  return nan ? input : result;
}

template <class F, class I>
RNN_INLINE F sigmoid(const F& x) {
  return 1.f / (1.f + exp<F, I>(-x));
}

template <class F, class I>
RNN_INLINE F tanh(const F& x) {
  using namespace fastmath;
  const F a = x < 0.f ? -x : x;
  const F z = x * x;
  F p = splat<F>(kTanhPoly[0]);
  p = p * z + kTanhPoly[1];
  p = p * z + kTanhPoly[2];
  p = p * z + kTanhPoly[3];
  p = p * z + kTanhPoly[4];
  const F small = p * z * x + x;
  const F large = 1.f - 2.f / (exp<F, I>(2.f * a) + 1.f);
  const F signedLarge = x < 0.f ? -large : large;
  return a < kTanhSmall ? small : signedLarge;
}

template <class F>
RNN_INLINE F load(const float* p) {
  F v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

template <class F>
RNN_INLINE void store(float* p, const F& v) {
  __builtin_memcpy(p, &v, sizeof v);
}

// The cell on L units at a time: L = 1 (plain floats, a group's tail past H) or a SIMD register's lanes.
template <int L>
struct Lanes {
  using F = typename Types<L>::F;
  using I = typename Types<L>::I;
  static RNN_INLINE F load(const float* p) { return vec::load<F>(p); }
  static RNN_INLINE void store(float* p, const F& v) { vec::store(p, v); }
  static RNN_INLINE F sigmoid(const F& x) { return vec::sigmoid<F, I>(x); }
  static RNN_INLINE F tanh(const F& x) { return vec::tanh<F, I>(x); }
};

template <>
struct Lanes<1> {
  using F = float;
  static RNN_INLINE F load(const float* p) { return *p; }
  static RNN_INLINE void store(float* p, const F& v) { *p = v; }
  static RNN_INLINE F sigmoid(F x) { return fastSigmoid(x); }
  static RNN_INLINE F tanh(F x) { return fastTanh(x); }
};

}  // namespace rnn::cpu::vec

#pragma GCC diagnostic pop
