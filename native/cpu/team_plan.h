// How a recurrence is split over the thread team: blocks of hidden units (multiples of 16 where possible).
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
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

// One member per block of at least 16 units.
inline int largestTeam(int H) { return std::max(1, std::min(getNumThreads(), H / 16)); }

// The largest team, but only when a step has enough multiply-adds (B G H P) to pay for handing it over between
// members once per step.
inline int teamSizeFor(int T, int B, int GH, int P, int H, int64_t minPerStep = 65536) {
  const int64_t perStep = int64_t(B) * GH * P;
  if (T < 2 || perStep < minPerStep) return 1;
  return largestTeam(H);
}

// One step of one row (oneStepRecurrence): each weight is read once, so members pay from the weights' size (a
// read from L3 shared by two cores, measured LSTM 1x1 in a loop, Zen 5 VM: H = 256, 2 MB, 0.057-0.059 ->
// 0.042-0.044 ms; H = 512, 0.152 -> 0.100-0.106 ms; H = 128, 0.5 MB, no gain), but waking a sleeping pooled thread
// cost more than that (H = 256 after 0.5 ms idle: 59 -> 84-130 us a call, also when the wake was only sent and
// not waited for). So the team runs while its threads are awake (spinning after a call) or calls come back to
// back (the wake then pays for the calls after it); a call after a pause runs alone.
constexpr int64_t kOneStepMinBytes = int64_t(1) << 20;
constexpr int64_t kBackToBackNs = 100000;

inline int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// When the last one-step call ended, in steadyNs (any thread's).
inline std::atomic<int64_t>& lastOneStepEnd() {
  static std::atomic<int64_t> end{0};
  return end;
}

inline int oneStepTeamSize(int G, int I, int P, int H) {
  const int64_t bytes = int64_t(G) * H * (I + P) * int64_t(sizeof(float));
  const int size = largestTeam(H);
  if (bytes < kOneStepMinBytes || size == 1) return 1;
  const bool backToBack = steadyNs() - lastOneStepEnd().load(std::memory_order_relaxed) < kBackToBackNs;
  return backToBack || teamAwake(size) ? size : 1;
}

inline void oneStepEnded() { lastOneStepEnd().store(steadyNs(), std::memory_order_relaxed); }

}  // namespace rnn::cpu
