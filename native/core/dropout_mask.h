// The dropout mask between layers, defined once for the CPU and both CUDA kernels (float32 and half): counter
// based (splitmix64 of the seed and the element's index), so a mask depends only on the seed, not on threading or
// on the device, and a model trains identically on either.
#pragma once
#include <cstdint>

#include "cell_kind.h"  // RNN_HOST_DEVICE

namespace rnn {

// Element i is dropped when its uniform draw in [0, 1) is below p.
RNN_HOST_DEVICE inline bool dropoutDrops(uint64_t seed, uint64_t i, float p) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return float(z >> 40) * (1.f / 16777216.f) < p;
}

// What kept elements are multiplied by (all are dropped when p >= 1).
RNN_HOST_DEVICE inline float dropoutScale(float p) { return p >= 1.f ? 0.f : 1.f / (1.f - p); }

}  // namespace rnn
