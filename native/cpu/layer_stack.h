// Layer stacks at batch 1: a unidirectional stack of two or more layers on a team runs its layers at once, one
// member a layer (on two threads: layers 0, 2, ... on the caller, 1, 3, ... on the pooled thread), each the sequence
// alone: it projects its input kStreamChunk steps at a time, once the layer below has published those output rows,
// and publishes its own rows step by step. No h crosses between the cores each step (at batch 1 that hand-over is
// most of a step's cost beyond the weights: docs/cpu.md), only a row every few steps. The float32 (LSTM, GRU),
// bfloat16 and int8 forwards (cpu_backend.cpp, bf16_forward.cpp, int8_forward.cpp) run it where a layer's W_ih and
// W_hh fit one core's L2 together; the driver (core/rnn_driver.h, rnnForwardStack) asks them through
// stacksLayers(spec). Likewise a bidirectional layer's two directions, one member each (runDirectionPair; the
// float32 and int8 forwards, through pairsDirections(spec)).
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>

#include "thread_team.h"

namespace rnn::cpu {

// A layer's place in a stack run at once: the layer below's finished steps (its output rows, this layer's input),
// or null for the first layer; and this layer's own.
struct LayerStream {
  StepCount* below;
  StepCount* done;
};

// The most bytes of W_ih and W_hh a layer may have to run alone on a core: a core's L2 (1 MB on the Zen 5 dev VM).
// Beyond it the layer streams its weights from L3 every step (float32 LSTM 2 x 100x1x256, 2 MB a layer: 1.75-1.92
// ms at once against 1.26-1.41 layer by layer; H 192, 1.2 MB: 0.74-0.96 against 0.88-0.98; H 224, 1.6 MB: 1.18-1.46
// against 0.99-1.27).
constexpr int64_t kStackWeightBytes = int64_t(1) << 20;

// Steps projected at once in a stream: one tile of rows of the int8 kernels (a longer chunk delays the layer
// above by as many steps; measured bfloat16 LSTM 2 x 100x1x256: 4 and 6 steps alike, 8 slower, 100 twice as slow).
constexpr int kStreamChunk = 6;

// Forwards so far that ran a stack's layers at once (binding's cpuKernels().layerStacks: the tests check which
// path a call took).
inline std::atomic<int64_t>& layerStackCount() {
  static std::atomic<int64_t> count{0};
  return count;
}

// run(l, stream) for each of `layers` layers on a team of up to `members` threads, layer l on member l % size (all
// on the caller when the team has one member: each layer then finds the one below done). A member's exception must
// not leave the layer above waiting for rows: the layer's count is published in full, the others finish on what is
// there, and the call throws.
template <class Run>
void runLayerStack(int layers, int members, int T, Run&& run) {
  std::unique_ptr<StepCount[]> done(new StepCount[layers]);
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  runTeam(members < layers ? members : layers, [&](int rank, int size, SpinBarrier&) {
    for (int l = rank; l < layers; l += size) {
      try {
        const LayerStream stream{l > 0 ? &done[l - 1] : nullptr, &done[l]};
        run(l, stream);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
        done[l].publish(T);
      }
    }
  });
  if (error) std::rethrow_exception(error);
  layerStackCount().fetch_add(1, std::memory_order_relaxed);
}

// Calls so far that ran a bidirectional layer's two directions at once (cpuKernels().directionPairs).
inline std::atomic<int64_t>& directionPairCount() {
  static std::atomic<int64_t> count{0};
  return count;
}

// run(d) for both directions of a layer at once, one member a direction (both on the caller when the team has one
// member); a member's exception is thrown after both have finished.
template <class Run>
void runDirectionPair(Run&& run) {
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  runTeam(2, [&](int rank, int size, SpinBarrier&) {
    for (int d = rank; d < 2; d += size) {
      try {
        run(d);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  });
  if (error) std::rethrow_exception(error);
  directionPairCount().fetch_add(1, std::memory_order_relaxed);
}

}  // namespace rnn::cpu
