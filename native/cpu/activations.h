// Branch-free float32 exp / sigmoid / tanh that the compiler vectorises inside the fused step loops and epilogues
// (libm calls would not vectorise and would cost more than the recurrent GEMM at small batch).
// Accuracy: about 2 ulp for exp and sigmoid, a few ulp for tanh; NaN propagates.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__GNUC__)
#define RNN_INLINE inline __attribute__((always_inline))
#else
#define RNN_INLINE inline
#endif

namespace rnn::cpu {

// The constants of exp and tanh, shared with the SIMD versions (activations_vec.h): a vector lane and the scalar
// tail of the same loop must give the same bits.
namespace fastmath {
constexpr float kExpMax = 88.3762626647949f;
constexpr float kExpMin = -87.3365447504f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;     // ln 2 = kLn2Hi - kLn2Lo, split for an exact x - n ln2
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                               4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
constexpr float kTanhPoly[5] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f,
                                1.33314422036e-1f, -3.33332819422e-1f};
constexpr float kTanhSmall = 0.625f;  // below: the odd polynomial; above: 1 - 2/(exp(2|x|)+1)
}  // namespace fastmath

RNN_INLINE float bitsToFloat(int32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Cephes-style: exp(x) = 2^n * exp(r), |r| <= ln2/2, degree-6 polynomial for exp(r).
RNN_INLINE float fastExp(float x) {
  // NaN passes both clamps; converting it to int32 and shifting the result is undefined behaviour (UBSan), so
  // it is computed as 0 and put back at the end (selects, which vectorise).
  const bool nan = x != x;
  const float input = x;
  x = nan ? 0.f : x;
  using namespace fastmath;
  x = x > kExpMax ? kExpMax : x;
  x = x < kExpMin ? kExpMin : x;
  const float t = x * kLog2e;
  const int32_t n = static_cast<int32_t>(t + (t >= 0.f ? 0.5f : -0.5f));
  const float fn = static_cast<float>(n);
  float r = x - fn * kLn2Hi;
  r = r - fn * kLn2Lo;
  float y = kExpPoly[0];
  y = y * r + kExpPoly[1];
  y = y * r + kExpPoly[2];
  y = y * r + kExpPoly[3];
  y = y * r + kExpPoly[4];
  y = y * r + kExpPoly[5];
  y = y * r * r + r + 1.f;
  const float result = y * bitsToFloat(static_cast<int32_t>(static_cast<uint32_t>(n + 127) << 23));
  return nan ? input : result;
}

RNN_INLINE float fastSigmoid(float x) { return 1.f / (1.f + fastExp(-x)); }

// Small |x|: odd polynomial (no cancellation); otherwise 1 - 2/(exp(2|x|)+1) with the sign restored.
RNN_INLINE float fastTanh(float x) {
  using namespace fastmath;
  const float a = x < 0.f ? -x : x;
  const float z = x * x;
  float p = kTanhPoly[0];
  p = p * z + kTanhPoly[1];
  p = p * z + kTanhPoly[2];
  p = p * z + kTanhPoly[3];
  p = p * z + kTanhPoly[4];
  const float small = p * z * x + x;
  const float large = 1.f - 2.f / (fastExp(2.f * a) + 1.f);
  const float signedLarge = x < 0.f ? -large : large;
  return a < kTanhSmall ? small : signedLarge;
}

}  // namespace rnn::cpu
