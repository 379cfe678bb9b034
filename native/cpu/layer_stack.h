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
#include <vector>

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

// Calls so far that ran a bidirectional layer's two directions at once (cpuKernels().directionPairs).
inline std::atomic<int64_t>& directionPairCount() {
  static std::atomic<int64_t> count{0};
  return count;
}

// fn(i) for each of n items on a team of up to `members` threads, item i on member i % size (all on the caller when
// the team has one member). An item's exception never leaves a worker: failed(i) runs (so that no other item waits
// on it for ever), the others finish, and the first exception is thrown once the team is done.
template <class Fn, class Failed>
void runItems(int n, int members, Fn&& fn, Failed&& failed) {
  std::exception_ptr error;
  std::atomic<bool> anyFailed{false};
  runTeam(members < n ? members : n, [&](int rank, int size, SpinBarrier&) {
    for (int i = rank; i < n; i += size) {
      try {
        fn(i);
      } catch (...) {
        if (!anyFailed.exchange(true)) error = std::current_exception();
        failed(i);
      }
    }
  });
  if (error) std::rethrow_exception(error);
}

// run(layer, stream) for each layer of a stack (the driver's layer-directions, in order), layer l on member l % size
// of a team of up to `members` (each layer then finds the one below done when the team has one member). A layer
// that throws publishes its count in full, so the layer above finishes on what is there, and the call throws.
template <class Direction, class Run>
void runLayerStack(const std::vector<Direction>& layers, int members, Run&& run) {
  const int n = int(layers.size()), T = int(layers[0].layout->batchSizes.size());
  std::unique_ptr<StepCount[]> done(new StepCount[n]);
  runItems(
      n, members, [&](int l) { run(layers[l], LayerStream{l > 0 ? &done[l - 1] : nullptr, &done[l]}); },
      [&](int l) { done[l].publish(T); });
  layerStackCount().fetch_add(1, std::memory_order_relaxed);
}

// run(forward), run(reverse) at once, one member a direction.
template <class Direction, class Run>
void runDirectionPair(const Direction& forward, const Direction& reverse, Run&& run) {
  runItems(2, 2, [&](int d) { run(d ? reverse : forward); }, [](int) {});
  directionPairCount().fetch_add(1, std::memory_order_relaxed);
}

}  // namespace rnn::cpu
