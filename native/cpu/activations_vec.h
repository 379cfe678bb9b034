// activations.h's exp / sigmoid / tanh on whole SIMD registers (GCC vector extensions). The scalar code is not
// vectorised by GCC inside functions compiled for AVX2 / AVX-512 (it reports "control flow in loop"), which made
// the cell's epilogue cost as much as the step's matrix-vector product at batch 1. Instantiated with 4, 8 or 16
// lanes; a function with the matching target attribute gets xmm / ymm / zmm code, any other gets it split into
// what the target has. One lane is a plain float (a group's tail past whole registers).
#pragma once
#include <cstdint>
#include <type_traits>

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

template <>
struct Types<1> {
  typedef float F;
  typedef int32_t I;
};

// (a plain float is read and written as a float: copied as bytes, GCC moved it through integer registers)
template <class F>
RNN_INLINE F load(const float* p) {
  if constexpr (std::is_same_v<F, float>) {
    return *p;
  } else {
    F v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
  }
}

template <class F>
RNN_INLINE void store(float* p, const F& v) {
  if constexpr (std::is_same_v<F, float>) {
    *p = v;
  } else {
    __builtin_memcpy(p, &v, sizeof v);
  }
}

// L units at a time (a register's lanes, or L = 1), a * b + c computed as M says (activations.h).
template <int L, class M = ContractAt<L>>
struct Lanes {
  using F = typename Types<L>::F;
  using I = typename Types<L>::I;
  static RNN_INLINE F load(const float* p) { return vec::load<F>(p); }
  static RNN_INLINE void store(float* p, const F& v) { vec::store(p, v); }
  static RNN_INLINE F madd(const F& a, const F& b, const F& c) { return M::madd(a, b, c); }
  static RNN_INLINE F dot2(const F& a, const F& b, const F& c, const F& d) { return M::dot2(a, b, c, d); }
  static RNN_INLINE F sigmoid(const F& x) { return fastmath::sigmoid<M, F, I>(x); }
  static RNN_INLINE F tanh(const F& x) { return fastmath::tanh<M, F, I>(x); }
};

// Two unit groups' pointers side by side: the epilogue of two groups as one chain of Twins (activations.h).
template <class T>
struct TwinPtr {
  T* a;
  T* b;
  RNN_INLINE TwinPtr operator+(int64_t k) const { return {a + k, b + k}; }
  explicit operator bool() const { return a != nullptr; }
};

template <class T>
constexpr bool kIsTwinPtr = false;
template <class T>
constexpr bool kIsTwinPtr<TwinPtr<T>> = true;

// Lanes' functions on a Twin of two L-lane registers, read from and written to two places.
template <int L, class M = ContractAt<L>>
struct TwinLanes {
  using F = Twin<typename Types<L>::F>;
  using I = Twin<typename Types<L>::I>;
  template <class T>
  static RNN_INLINE F load(const TwinPtr<T>& p) {
    return {vec::load<decltype(F::a)>(p.a), vec::load<decltype(F::b)>(p.b)};
  }
  static RNN_INLINE void store(const TwinPtr<float>& p, const F& v) {
    vec::store(p.a, v.a);
    vec::store(p.b, v.b);
  }
  static RNN_INLINE F madd(const F& a, const F& b, const F& c) { return M::madd(a, b, c); }
  static RNN_INLINE F dot2(const F& a, const F& b, const F& c, const F& d) { return M::dot2(a, b, c, d); }
  static RNN_INLINE F sigmoid(const F& x) { return fastmath::sigmoid<M, F, I>(x); }
  static RNN_INLINE F tanh(const F& x) { return fastmath::tanh<M, F, I>(x); }
};

// Lanes or TwinLanes, as the pointers P say
template <int L, class M, class P>
using LanesFor = std::conditional_t<kIsTwinPtr<P>, TwinLanes<L, M>, Lanes<L, M>>;

}  // namespace rnn::cpu::vec

#pragma GCC diagnostic pop
