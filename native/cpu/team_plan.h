// How a recurrence is split over the thread team: blocks of hidden units (multiples of 16 where possible).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu_backend.h"
#include "thread_team.h"

namespace rnn::cpu {

inline std::vector<int> blockBounds(int n, int blocks) {
  std::vector<int> bounds(blocks + 1);
  for (int k = 0; k < blocks; ++k) shareOf(n, k, blocks, 16, bounds[k], bounds[k + 1]);
  bounds[blocks] = n;
  return bounds;
}

// One member per block of at least 16 units, and only when a step has enough work to pay for a barrier
// (about a microsecond) per step.
inline int teamSizeFor(int T, int B, int GH, int P, int H) {
  const int64_t perStep = int64_t(B) * GH * P;
  if (T < 2 || perStep < 65536) return 1;
  return std::max(1, std::min(getNumThreads(), H / 16));
}

}  // namespace rnn::cpu
