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

// The forward's recurrences hand work over in BlockPhases with pooled threads, which pays from less work
// per step (measured at batch 1: H = 96-192 1.3-1.6x faster on two members than on one) than the backward's
// barrier per step.
constexpr int64_t kForwardMinWork = 12288;

// One member per block of at least 16 units, and only when a step has enough multiply-adds (B G H P) to pay
// for handing it over between members once per step.
inline int teamSizeFor(int T, int B, int GH, int P, int H, int64_t minPerStep = 65536) {
  const int64_t perStep = int64_t(B) * GH * P;
  if (T < 2 || perStep < minPerStep) return 1;
  return std::max(1, std::min(getNumThreads(), H / 16));
}

}  // namespace rnn::cpu
