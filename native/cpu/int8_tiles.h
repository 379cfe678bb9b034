// The tile kernels of the int8 GEMM and step (included by int8_step.cpp only): acc[MR rows][G gates x U units] =
// sum over k of a_q[row, k] W_q[unit, k], in int32, over the panels of int8_pack.h. One panel word per (k-step,
// gate, unit); the row's word for the same k-step is broadcast to every lane.
//  - tileVnni: AVX512_VNNI, 16 units: one VPDPBUSD per (row, gate, 4 k) (uint8 activations x int8 weights, four
//    products summed into each int32 lane); 6 rows x 4 gates keep 24 zmm accumulators.
//  - tilePairs512 / tilePairs256: AVX512BW / AVX2, 16 / 8 units: VPMADDWD (int16 pairs, two products summed into
//    each int32 lane) and VPADDD per (row, gate, 2 k).
//  - tilePlain: the same pairs in plain C++ (the baseline).
// The sums are exact, so each kernel returns the same int32 values for the same rows (Vnni's include 128 x the row
// sum of the weights, which the caller subtracts).
#pragma once
#include <cstdint>
#include <cstring>

#include "activations.h"
#include "simd_dispatch.h"

#if RNN_SIMD_X86
#include <immintrin.h>
#endif

namespace rnn::cpu::int8 {

struct Tile {
  const uint8_t* a;  // quantized row m at a + m * aStride bytes
  int64_t aStride;
  int steps;
  const uint32_t* panel;
};

// The 4 bytes of a row for k-step p (a 32-bit word: 4 uint8, or 2 int16).
RNN_INLINE uint32_t rowWord(const uint8_t* row, int p) {
  uint32_t w;
  std::memcpy(&w, row + 4 * size_t(p), sizeof w);
  return w;
}

template <int U, int MR, int G>
RNN_INLINE void tilePlain(const Tile& t, int32_t* out) {
  constexpr int W = G * U;
  int32_t acc[MR][W] = {};
  const uint32_t* w = t.panel;
  for (int p = 0; p < t.steps; ++p, w += W) {
    for (int m = 0; m < MR; ++m) {
      const uint32_t x = rowWord(t.a + m * t.aStride, p);
      const int32_t x0 = int16_t(x & 0xffffu), x1 = int16_t(x >> 16);
      for (int j = 0; j < W; ++j) acc[m][j] += x0 * int16_t(w[j] & 0xffffu) + x1 * int16_t(w[j] >> 16);
    }
  }
  std::memcpy(out, acc, sizeof acc);
}

#if RNN_SIMD_X86

template <int MR, int G>
RNN_TARGET_AVX2 RNN_INLINE void tilePairs256(const Tile& t, int32_t* out) {
  __m256i acc[MR][G];
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < G; ++g) acc[m][g] = _mm256_setzero_si256();
  }
  const uint32_t* w = t.panel;
  for (int p = 0; p < t.steps; ++p, w += G * 8) {
    __m256i wg[G];
    for (int g = 0; g < G; ++g) wg[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 8 * g));
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const __m256i s = _mm256_set1_epi32(int(rowWord(t.a + m * t.aStride, p)));
      for (int g = 0; g < G; ++g) acc[m][g] = _mm256_add_epi32(acc[m][g], _mm256_madd_epi16(s, wg[g]));
    }
  }
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < G; ++g) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (m * G + g) * 8), acc[m][g]);
  }
}

template <int MR, int G>
RNN_TARGET_AVX512BW RNN_INLINE void tilePairs512(const Tile& t, int32_t* out) {
  __m512i acc[MR][G];
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < G; ++g) acc[m][g] = _mm512_setzero_si512();
  }
  const uint32_t* w = t.panel;
  for (int p = 0; p < t.steps; ++p, w += G * 16) {
    __m512i wg[G];
    for (int g = 0; g < G; ++g) wg[g] = _mm512_loadu_si512(w + 16 * g);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m512i s = _mm512_set1_epi32(int(rowWord(t.a + m * t.aStride, p)));
      for (int g = 0; g < G; ++g) acc[m][g] = _mm512_add_epi32(acc[m][g], _mm512_madd_epi16(s, wg[g]));
    }
  }
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < G; ++g) _mm512_storeu_si512(out + (m * G + g) * 16, acc[m][g]);
  }
}

// VPDPBUSD with the accumulator as an in-out operand: GCC 12's intrinsic treats it as a separate output, and with
// 24 accumulators live it then copied and spilled every one of them on every k-step (measured in the assembly).
RNN_TARGET_VNNI RNN_INLINE __m512i dpbusd(__m512i acc, __m512i bytes, __m512i weights) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(bytes), "v"(weights));
  return acc;
}

template <int MR, int G>
RNN_TARGET_VNNI RNN_INLINE void tileVnni(const Tile& t, int32_t* out) {
  __m512i acc[MR][G];
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < G; ++g) acc[m][g] = _mm512_setzero_si512();
  }
  const uint32_t* w = t.panel;
  for (int p = 0; p < t.steps; ++p, w += G * 16) {
    __m512i wg[G];
    for (int g = 0; g < G; ++g) wg[g] = _mm512_loadu_si512(w + 16 * g);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m512i s = _mm512_set1_epi32(int(rowWord(t.a + m * t.aStride, p)));
      for (int g = 0; g < G; ++g) acc[m][g] = dpbusd(acc[m][g], s, wg[g]);
    }
  }
  for (int m = 0; m < MR; ++m) {
    for (int g = 0; g < G; ++g) _mm512_storeu_si512(out + (m * G + g) * 16, acc[m][g]);
  }
}

#endif

}  // namespace rnn::cpu::int8
