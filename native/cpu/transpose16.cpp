#include "transpose16.h"

#include "simd_dispatch.h"

#if RNN_SIMD_X86
#include <immintrin.h>
#endif

namespace rnn::cpu {

namespace {

bool hasTranspose16() {
#if RNN_SIMD_X86
  return simdLevel() == 2;
#else
  return false;
#endif
}

bool hasTranspose8() {
#if RNN_SIMD_X86
  return simdLevel() >= 1;
#else
  return false;
#endif
}

#if RNN_SIMD_X86
// GCC 12 reports the unpack and shuffle intrinsics' own placeholder source operand as uninitialised.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Unpack pairs of rows, then pairs of pairs, then gather the 128-bit lanes.
__attribute__((target("avx512f"))) void transpose16(const uint32_t* src, int64_t srcStride, uint32_t* dst,
                                                    int64_t dstStride) {
  __m512 r[16], t[16];
  const float* in = reinterpret_cast<const float*>(src);
  float* out = reinterpret_cast<float*>(dst);
  for (int u = 0; u < 16; ++u) r[u] = _mm512_loadu_ps(in + u * srcStride);
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
  }
  // r[4 i + j], 128-bit lane l: element 4 l + j of rows 4 i .. 4 i + 3
  for (int j = 0; j < 4; ++j) {
    const __m512 v = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88), w = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd), w1 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
    _mm512_storeu_ps(out + j * dstStride, _mm512_shuffle_f32x4(v, w, 0x88));
    _mm512_storeu_ps(out + (8 + j) * dstStride, _mm512_shuffle_f32x4(v, w, 0xdd));
    _mm512_storeu_ps(out + (4 + j) * dstStride, _mm512_shuffle_f32x4(v1, w1, 0x88));
    _mm512_storeu_ps(out + (12 + j) * dstStride, _mm512_shuffle_f32x4(v1, w1, 0xdd));
  }
}

// The same three stages on 8 rows of 8: pairs of rows, pairs of pairs, then the two 128-bit halves.
__attribute__((target("avx2"))) void transpose8(const uint32_t* src, int64_t srcStride, uint32_t* dst,
                                                int64_t dstStride) {
  __m256 r[8], t[8];
  const float* in = reinterpret_cast<const float*>(src);
  float* out = reinterpret_cast<float*>(dst);
  for (int u = 0; u < 8; ++u) r[u] = _mm256_loadu_ps(in + u * srcStride);
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    const __m256d a = _mm256_castps_pd(t[4 * i]), b = _mm256_castps_pd(t[4 * i + 2]);
    const __m256d c = _mm256_castps_pd(t[4 * i + 1]), d = _mm256_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, b));
    r[4 * i + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, b));
    r[4 * i + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(c, d));
    r[4 * i + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(c, d));
  }
  // r[4 i + j], 128-bit half h: element 4 h + j of rows 4 i .. 4 i + 3
  for (int j = 0; j < 4; ++j) {
    _mm256_storeu_ps(out + j * dstStride, _mm256_permute2f128_ps(r[j], r[4 + j], 0x20));
    _mm256_storeu_ps(out + (4 + j) * dstStride, _mm256_permute2f128_ps(r[j], r[4 + j], 0x31));
  }
}
#pragma GCC diagnostic pop
#else
void transpose16(const uint32_t*, int64_t, uint32_t*, int64_t) {}
void transpose8(const uint32_t*, int64_t, uint32_t*, int64_t) {}
#endif

}  // namespace

bool hasUnitsTranspose(int U) { return U == 16 ? hasTranspose16() : U == 8 && hasTranspose8(); }

void transposeUnits(int U, const uint32_t* src, int64_t srcStride, uint32_t* dst, int64_t dstStride) {
  if (U == 16) {
    transpose16(src, srcStride, dst, dstStride);
    return;
  }
  transpose8(src, srcStride, dst, dstStride);
  transpose8(src + 8, srcStride, dst + 8 * dstStride, dstStride);
}

}  // namespace rnn::cpu
