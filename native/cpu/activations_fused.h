// activations_vec.h's exp and sigmoid (the same constants and steps; tanh through sigmoid) with every multiply-add
// written as one fused multiply-add, for the int8 kernels, whose results must be the same bits at every instruction-set level:
// a fused multiply-add rounds once everywhere (VFMADD on AVX2 / AVX-512, fmaf in the baseline), whereas letting the
// compiler contract a * b + c (it does only where the target has FMA) made the levels differ. The files that use
// this turn contraction off, so that every other a * b + c is rounded twice at every level too. Fused, the
// polynomials also take half the instructions of a multiply and an add.
#pragma once
#include <cstdint>

#include "activations.h"
#include "activations_vec.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu::fused {

// a * b + c rounded once, lane by lane (GCC turns the loop into one VFMADD where the target has FMA).
template <class F>
RNN_INLINE F fma(const F& a, const F& b, const F& c) {
  F r;
  for (int i = 0; i < int(sizeof(F) / sizeof(float)); ++i) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
  return r;
}

template <>
RNN_INLINE float fma(const float& a, const float& b, const float& c) {
  return __builtin_fmaf(a, b, c);
}

template <class F>
RNN_INLINE F splat(float v) {
  return F{} + v;
}

template <class F, class I>
RNN_INLINE F exp(const F& input) {
  using namespace fastmath;
  const I nan = input != input;
  F x = nan ? splat<F>(0.f) : input;
  x = x > kExpMax ? splat<F>(kExpMax) : x;
  x = x < kExpMin ? splat<F>(kExpMin) : x;
  const F t = x * kLog2e;
  const I n = __builtin_convertvector(t + (t >= 0.f ? splat<F>(0.5f) : splat<F>(-0.5f)), I);
  const F fn = __builtin_convertvector(n, F);
  F r = fma(-fn, splat<F>(kLn2Hi), x);
  r = fma(-fn, splat<F>(kLn2Lo), r);
  // written out: a loop over the coefficients was left rolled (the lane loops of fma make its body look large)
  F y = fma(splat<F>(kExpPoly[0]), r, splat<F>(kExpPoly[1]));
  y = fma(y, r, splat<F>(kExpPoly[2]));
  y = fma(y, r, splat<F>(kExpPoly[3]));
  y = fma(y, r, splat<F>(kExpPoly[4]));
  y = fma(y, r, splat<F>(kExpPoly[5]));
  y = fma(y * r, r, r) + 1.f;
  // n + 127 is in [1, 255] after the clamps, so the shift never overflows; the cast reinterprets the bits
  const F result = y * (F)((n + 127) << 23);
  return nan ? input : result;
}

template <class F, class I>
RNN_INLINE F sigmoid(const F& x) {
  return 1.f / (1.f + exp<F, I>(-x));
}

// tanh(x) = 2 sigmoid(2x) - 1: one exp and one division (the polynomial for small |x| of activations_vec.h avoids
// a cancellation that costs at most a few 1e-8 absolute here, far below int8's error, at twice the instructions).
template <class F, class I>
RNN_INLINE F tanh(const F& x) {
  return fma(splat<F>(2.f), sigmoid<F, I>(x + x), splat<F>(-1.f));
}

// The same on one float (a group's tail past a whole register).
RNN_INLINE float exp1(float input) {
  using namespace fastmath;
  const bool nan = input != input;
  float x = nan ? 0.f : input;
  x = x > kExpMax ? kExpMax : x;
  x = x < kExpMin ? kExpMin : x;
  const float t = x * kLog2e;
  const int32_t n = static_cast<int32_t>(t + (t >= 0.f ? 0.5f : -0.5f));
  const float fn = static_cast<float>(n);
  float r = fma(-fn, kLn2Hi, x);
  r = fma(-fn, kLn2Lo, r);
  float y = fma(kExpPoly[0], r, kExpPoly[1]);
  y = fma(y, r, kExpPoly[2]);
  y = fma(y, r, kExpPoly[3]);
  y = fma(y, r, kExpPoly[4]);
  y = fma(y, r, kExpPoly[5]);
  y = fma(y * r, r, r) + 1.f;
  const float result = y * bitsToFloat(static_cast<int32_t>(static_cast<uint32_t>(n + 127) << 23));
  return nan ? input : result;
}

RNN_INLINE float sigmoid1(float x) { return 1.f / (1.f + exp1(-x)); }

RNN_INLINE float tanh1(float x) { return fma(2.f, sigmoid1(x + x), -1.f); }

// L units at a time: a register's lanes, or L = 1 (plain floats).
template <int L>
struct Lanes {
  using F = typename vec::Types<L>::F;
  using I = typename vec::Types<L>::I;
  static RNN_INLINE F load(const float* p) {
    F v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
  }
  static RNN_INLINE void store(float* p, const F& v) { __builtin_memcpy(p, &v, sizeof v); }
  static RNN_INLINE F sigmoid(const F& x) { return fused::sigmoid<F, I>(x); }
  static RNN_INLINE F tanh(const F& x) { return fused::tanh<F, I>(x); }
};

template <>
struct Lanes<1> {
  using F = float;
  static RNN_INLINE F load(const float* p) { return *p; }
  static RNN_INLINE void store(float* p, const F& v) { *p = v; }
  static RNN_INLINE F sigmoid(F x) { return sigmoid1(x); }
  static RNN_INLINE F tanh(F x) { return tanh1(x); }
};

}  // namespace rnn::cpu::fused

#pragma GCC diagnostic pop
