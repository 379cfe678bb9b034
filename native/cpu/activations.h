// Branch-free float32 exp / sigmoid / tanh that the compiler vectorises inside the fused step loops and epilogues
// (libm calls would not vectorise and would cost more than the recurrent GEMM at small batch). One body serves a
// plain float and a GCC vector's lanes (activations_vec.h), so a register's lanes and a group's scalar tail give
// the same bits, and both ways of computing a * b + c (Contract, Fused), so the polynomials exist once.
// Accuracy: about 2 ulp for exp and sigmoid, a few ulp for tanh; NaN propagates.
#pragma once
#include <cstdint>
#include <type_traits>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>  // declares the FMA builtins fmaLanes uses
#endif

#if defined(__GNUC__)
#define RNN_INLINE inline __attribute__((always_inline))
#else
#define RNN_INLINE inline
#endif

// Every function here is inlined into its caller, so the ABI of passing wide vectors by value (which GCC warns
// about outside AVX / AVX-512 functions) never applies.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu {

// Two registers' worth of lanes as one value: every operation applies to both halves, one after the other, so the
// instruction stream interleaves two independent chains. At batch 1 the cell epilogue of one unit group is a
// ~165-cycle chain (exp, a division, c, tanh(c)) and the core ran one group's chain after another (scripts/
// step-kernel-probe.sh); two groups as one Twin run side by side. Each half goes through the operations it would
// alone (madd splits a Twin explicitly: fmaLanes). (A 32-lane GCC vector does the same
// on paper but GCC lowered its 128-byte vectors through memory.)
template <class V>
struct Twin {
  V a, b;
};

template <class T>
constexpr bool kIsTwin = false;
template <class V>
constexpr bool kIsTwin<Twin<V>> = true;

#define RNN_TWIN_BINARY(op)                                                                      \
  template <class A, class B>                                                                    \
  RNN_INLINE auto operator op(const Twin<A>& x, const Twin<B>& y)->Twin<decltype(x.a op y.a)> {  \
    return {x.a op y.a, x.b op y.b};                                                             \
  }                                                                                              \
  template <class A, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>                 \
  RNN_INLINE auto operator op(const Twin<A>& x, S s)->Twin<decltype(x.a op s)> {                 \
    return {x.a op s, x.b op s};                                                                 \
  }                                                                                              \
  template <class S, class B, class = std::enable_if_t<std::is_arithmetic_v<S>>>                 \
  RNN_INLINE auto operator op(S s, const Twin<B>& y)->Twin<decltype(s op y.a)> {                 \
    return {s op y.a, s op y.b};                                                                 \
  }
RNN_TWIN_BINARY(+)
RNN_TWIN_BINARY(-)
RNN_TWIN_BINARY(*)
RNN_TWIN_BINARY(/)
RNN_TWIN_BINARY(<)
RNN_TWIN_BINARY(>)
RNN_TWIN_BINARY(<<)
#undef RNN_TWIN_BINARY

template <class V>
RNN_INLINE Twin<V> operator-(const Twin<V>& x) {
  return {-x.a, -x.b};
}

// cond ? a : b, lane by lane (a plain bool for a float, a mask for a GCC vector, a Twin of masks for a Twin)
template <class C, class F>
RNN_INLINE F select(const C& cond, const F& a, const F& b) {
  return cond ? a : b;
}
template <class C, class V>
RNN_INLINE Twin<V> select(const Twin<C>& cond, const Twin<V>& a, const Twin<V>& b) {
  return {select(cond.a, a.a, b.a), select(cond.b, a.b, b.b)};
}

// One rounding per lane. A zmm or ymm register is one VFMADD through GCC's own builtin (what _mm512_fmadd_ps and
// _mm256_fmadd_ps expand to; the intrinsics themselves cannot be inlined into a function without their target,
// the builtins are checked where they land, in the AVX-512 / AVX2 kernels): a loop over the lanes became one
// VFMADD too, but kept the float32 tile's loop over the gates rolled, its accumulators on the stack. Narrower
// vectors (the baseline's, which has no FMA: fmaf) go lane by lane.
template <class F>
RNN_INLINE F fmaLanes(const F& a, const F& b, const F& c) {
  if constexpr (std::is_same_v<F, float>) {
    return __builtin_fmaf(a, b, c);
  } else if constexpr (kIsTwin<F>) {
    return {fmaLanes(a.a, b.a, c.a), fmaLanes(a.b, b.b, c.b)};
#if defined(__x86_64__) && defined(__GNUC__)
  } else if constexpr (sizeof(F) == 64) {
    typedef float V16 __attribute__((vector_size(64)));
    return F(__builtin_ia32_vfmaddps512_mask(V16(a), V16(b), V16(c), static_cast<unsigned short>(0xffff), 4));
  } else if constexpr (sizeof(F) == 32) {
    typedef float V8 __attribute__((vector_size(32)));
    return F(__builtin_ia32_vfmaddps256(V8(a), V8(b), V8(c)));
#endif
  } else {
    F r;
    for (int i = 0; i < int(sizeof(F) / sizeof(float)); ++i) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
    return r;
  }
}

// How the activations, the cell's epilogue and the tiles compute a * b + c: always through madd / dot2. The step
// kernels' files (packed_step.cpp, bf16_step.cpp, int8_step.cpp) compile without contraction (#pragma GCC
// optimize("fp-contract=off")), so GCC never fuses on its own there. Left to GCC, a * b + c was fused or not
// depending on the inlining context: the same group's cell update gave other bits when two groups' updates were
// written through one helper (session 16), which broke the equality of 1- and 2-thread results that the tests
// check. (The Elman step and the backward cell, rnn_step.cpp and cell_backward.cpp, keep contraction on: no
// result of theirs must match another's bits.)
//  - Contract<Fma> (float32, bfloat16): one FMA where the level has FMAs (Fma: AVX2, AVX-512), a rounded product
//    and a sum in the baseline, so those kernels' last bits differ across levels. ContractAt<L> is the one for a
//    level whose registers hold L floats (4 only in the baseline).
//  - Fused (int8): one fused multiply-add at every level (VFMADD, fmaf in the baseline), because int8 results
//    must be the same bits at every level. Its tanh is 2 sigmoid(2x) - 1: one exp and one division, where
//    Contract's polynomial for small |x| avoids a cancellation that costs at most a few 1e-8 absolute, far below
//    int8's error, at twice the instructions.
// dot2(a, b, c, d) is a * b + c * d with the first product fused: madd(a, b, c * d).
template <bool Fma>
struct Contract {
  static constexpr bool kTanhBySigmoid = false;
  template <class F>
  static RNN_INLINE F madd(const F& a, const F& b, const F& c) {
    if constexpr (Fma) {
      return fmaLanes(a, b, c);
    } else {
      return a * b + c;
    }
  }
  template <class F>
  static RNN_INLINE F dot2(const F& a, const F& b, const F& c, const F& d) {
    return madd(a, b, c * d);
  }
};

template <int L>
using ContractAt = Contract<(L > 4)>;

struct Fused {
  static constexpr bool kTanhBySigmoid = true;
  template <class F>
  static RNN_INLINE F madd(const F& a, const F& b, const F& c) {
    return fmaLanes(a, b, c);
  }
  template <class F>
  static RNN_INLINE F dot2(const F& a, const F& b, const F& c, const F& d) {
    return madd(a, b, c * d);
  }
};

namespace fastmath {

constexpr float kExpMax = 88.3762626647949f;
constexpr float kExpMin = -87.3365447504f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;  // ln 2 = kLn2Hi - kLn2Lo, split for an exact x - n ln2
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                               4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
constexpr float kTanhPoly[5] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f,
                                1.33314422036e-1f, -3.33332819422e-1f};
constexpr float kTanhSmall = 0.625f;  // below: the odd polynomial; above: 1 - 2/(exp(2|x|)+1)

// F is float (I int32_t) or a GCC vector of floats (I the vector of int32_t of as many lanes).
template <class F>
RNN_INLINE F splat(float v) {
  return F{} + v;
}

// The same bits as another type of the same size (float <-> int32_t, their vectors, their Twins half by half)
template <class To, class From>
RNN_INLINE To bitCast(const From& v) {
  if constexpr (kIsTwin<From>) {
    return {bitCast<decltype(To::a)>(v.a), bitCast<decltype(To::b)>(v.b)};
  } else {
    static_assert(sizeof(To) == sizeof(From), "bitCast: same size");
    To r;
    __builtin_memcpy(&r, &v, sizeof r);
    return r;
  }
}

template <class I>
struct Unsigned {
  typedef uint32_t type __attribute__((vector_size(sizeof(I))));
};
template <>
struct Unsigned<int32_t> {
  typedef uint32_t type;
};
template <class I>
struct Unsigned<Twin<I>> {
  typedef Twin<typename Unsigned<I>::type> type;
};

// Cephes-style: exp(x) = 2^n * exp(r), |r| <= ln2/2, degree-6 polynomial for exp(r); returned as its two factors
// y and 2^n: sigmoid and tanh add 1 to it, which is one madd of them.
template <class F>
struct ExpParts {
  F y, scale;
};

template <class M, class F, class I>
RNN_INLINE ExpParts<F> expParts(const F& input) {
  // NaN passes both clamps (one VMAXPS / VMINPS each, written so that the NaN operand is the one returned) and
  // every operation after them, so the result is NaN without a compare and a select; its n is an integer like
  // any other (bits, not a conversion, which would be undefined behaviour for NaN) and the shift below is
  // unsigned. Adding 1.5 * 2^23 rounds t (|t| < 2^22) to the nearest integer, ties to even, into the low mantissa
  // bits, so n and fn take two adds and an integer subtraction instead of a compare, a select, an add and two
  // conversions (measured: the LSTM cell epilogue of 128 units 0.70-0.90 -> 0.58-0.77 us a step, float32 and
  // bfloat16 step kernels alike; scripts/step-kernel-probe.sh's P = 16 rows).
  constexpr float kRound = 12582912.f;
  F x = select(input < kExpMin, splat<F>(kExpMin), input);
  x = select(x > kExpMax, splat<F>(kExpMax), x);
  const F k = M::madd(x, splat<F>(kLog2e), splat<F>(kRound));
  const F fn = k - kRound;
  const I n = bitCast<I>(k) - bitCast<int32_t>(kRound);
  F r = M::madd(-fn, splat<F>(kLn2Hi), x);
  r = M::madd(-fn, splat<F>(kLn2Lo), r);
  // written out: a loop over the coefficients was left rolled (Fused's lane loops make its body look large)
  F y = M::madd(splat<F>(kExpPoly[0]), r, splat<F>(kExpPoly[1]));
  y = M::madd(y, r, splat<F>(kExpPoly[2]));
  y = M::madd(y, r, splat<F>(kExpPoly[3]));
  y = M::madd(y, r, splat<F>(kExpPoly[4]));
  y = M::madd(y, r, splat<F>(kExpPoly[5]));
  y = M::madd(y * r, r, r) + 1.f;
  // n + 127 is in [1, 255] after the clamps but for NaN, whose n may be anything: an unsigned shift
  using Bits = typename Unsigned<I>::type;
  return {y, bitCast<F>((bitCast<Bits>(n) + 127u) << 23)};
}

// 1 + exp(x): exact products (y times a power of two), so fused or not, the same bits
template <class M, class F, class I>
RNN_INLINE F onePlusExp(const F& x) {
  const ExpParts<F> e = expParts<M, F, I>(x);
  return M::madd(e.y, e.scale, splat<F>(1.f));
}

template <class M, class F, class I>
RNN_INLINE F sigmoid(const F& x) {
  return 1.f / onePlusExp<M, F, I>(-x);
}

// Contract: small |x| by the odd polynomial (no cancellation), otherwise 1 - 2/(exp(2|x|)+1) with the sign restored.
template <class M, class F, class I>
RNN_INLINE F tanh(const F& x) {
  if constexpr (M::kTanhBySigmoid) {
    return M::madd(splat<F>(2.f), sigmoid<M, F, I>(x + x), splat<F>(-1.f));
  } else {
    const F a = select(x < 0.f, -x, x);
    const F z = x * x;
    F p = M::madd(splat<F>(kTanhPoly[0]), z, splat<F>(kTanhPoly[1]));
    p = M::madd(p, z, splat<F>(kTanhPoly[2]));
    p = M::madd(p, z, splat<F>(kTanhPoly[3]));
    p = M::madd(p, z, splat<F>(kTanhPoly[4]));
    const F small = M::madd(p * z, x, x);
    const F large = 1.f - 2.f / onePlusExp<M, F, I>(2.f * a);
    const F signedLarge = select(x < 0.f, -large, large);
    return select(a < kTanhSmall, small, signedLarge);
  }
}

}  // namespace fastmath

}  // namespace rnn::cpu

#pragma GCC diagnostic pop
