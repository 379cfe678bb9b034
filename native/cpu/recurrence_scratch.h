// What every CPU recurrence (float32, bfloat16, int8) prepares before its time loop: its scratch memory, and the
// biases summed once.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "../core/cell_kind.h"

namespace rnn::cpu {

// The calling thread's scratch: one allocation kept between calls (allocating and faulting it in every call cost
// more than the work at batch 1), at least `bytes` from a 64-byte line on.
uint8_t* threadScratch(size_t bytes);

// Pieces of threadScratch of the given sizes in bytes, each from a 64-byte line on (a piece of 0 bytes may share
// its address with the next); valid until the next call of either on this thread.
template <size_t N>
std::array<uint8_t*, N> scratchPieces(const std::array<size_t, N>& bytes) {
  auto line = [](size_t n) { return (n + 63) / 64 * 64; };
  size_t total = 0;
  for (size_t n : bytes) total += line(n);
  uint8_t* at = threadScratch(total);
  std::array<uint8_t*, N> pieces;
  for (size_t i = 0; i < N; ++i) {
    pieces[i] = at;
    at += line(bytes[i]);
  }
  return pieces;
}

// b_ih + b_hh summed once in float32 into bias[G H]; GRU keeps n's two parts apart, because r scales only b_hn:
// bias holds b_in there and biasHn[H] (when given) b_hn, zeros for the other cells. Without biases (bIh null)
// all zeros. toFloat reads one element (a float, or bfloat16 bits).
template <class T, class ToFloat>
void sumBiases(CellKind kind, const T* bIh, const T* bHh, int H, float* bias, float* biasHn, ToFloat toFloat) {
  const bool gru = kind == CellKind::Gru;
  if (biasHn) std::fill(biasHn, biasHn + H, 0.f);
  if (!bIh) {
    std::fill(bias, bias + gateCount(kind) * H, 0.f);
    return;
  }
  const int summed = (gru ? 2 : gateCount(kind)) * H;
  for (int j = 0; j < summed; ++j) bias[j] = toFloat(bIh[j]) + toFloat(bHh[j]);
  if (gru) {
    for (int j = 0; j < H; ++j) {
      bias[2 * H + j] = toFloat(bIh[2 * H + j]);
      biasHn[j] = toFloat(bHh[2 * H + j]);
    }
  }
}

// float32 biases as they are
inline void sumBiases(CellKind kind, const float* bIh, const float* bHh, int H, float* bias, float* biasHn) {
  sumBiases(kind, bIh, bHh, H, bias, biasHn, [](float v) { return v; });
}

}  // namespace rnn::cpu
