#!/usr/bin/env bash
# The batch-1 step kernels alone, hot in L2, from this checkout's sources: one member's share of an LSTM 256 step
# (8 unit groups of W_hh panels) through packedStep (float32, 512 KB) and bf16Step (bfloat16, 256 KB), in a loop.
# Also the step with P = 16 (the cell epilogue and the loop overhead, nearly no dot product). Compare with
# scripts/l2-probe.sh's L2 stream: the float32 kernel is 2.7 us a step at 192 GB/s if it streams at the L2's pace.
# Measured (2-vCPU AMD EPYC dev VM, session 11): float32 4.1-4.7 us (P = 16: 0.6-0.9), bfloat16 2.5-2.9 us (P = 16:
# 0.8): the cell epilogue of 128 units costs 0.6-0.9 us a step, a fifth to a quarter of the step; a bare
# 4-gate GEMV over the same panels 3.1-3.3 us (160 GB/s) with 1 to 4 accumulator chains per gate alike.
# Session 12, with a software prefetch in the one-row kernels (4 KB ahead float32, 2 KB bfloat16), alternating
# builds: float32 4.37-4.58 -> 3.93-4.03 us, bfloat16 2.56-3.11 -> 2.32-2.35 us (L2 stream 205 GB/s then).
# Session 14: until then the weights and h were all positive, so every gate saturated, c grew by ~1 a call without
# bound and tanh(c) took its |x| > 44 path, whose 2 / (exp(2|x|) + 1) is subnormal: a microcode assist per lane
# that made the float32 epilogue cost 0.6 us a step here instead of 0.16 (found by setting FTZ/DAZ in a copy of
# this probe). Zero-mean values now: float32 3.38 us a step (P = 16: 0.58), bfloat16 2.14 (0.57), Zen 5 dev VM.
# A real LSTM's gates rarely sit that far out (LSTM 100x1x256 with weights x 16: no slower end to end).
# Session 19: every buffer now starts on a 64-byte line, as the addon's do (std::vector's started 16 bytes past one,
# which cost the float32 kernel 15-30%): float32 2.7-2.9 us, bfloat16 1.9-2.1 us on the Zen 5 dev VM. The last lines
# run the float32 and bfloat16 steps on two members at once (h shared, one flag each): the step's period and each
# member's kernel time, to tell the hand-over and the vCPUs' unequal pace from the kernel (docs/cpu.md, session 19).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/probe.cpp" <<'CPP'
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>
#include <pthread.h>
#include "native/cpu/bf16_step.h"
#include "native/cpu/packed_step.h"
using namespace rnn;
using namespace rnn::cpu;
// Every buffer from a 64-byte line on, as the addon's scratch and packed forms are: a 512 KB std::vector starts
// 16 bytes past a page here, and panels off their lines cost the float32 kernel ~30% (3.8 against 2.7-2.9 us).
template <class T>
struct Lines {
  using value_type = T;
  Lines() = default;
  template <class U>
  Lines(const Lines<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  bool operator==(const Lines&) const { return true; }
  bool operator!=(const Lines&) const { return false; }
};
template <class T>
using Vec = std::vector<T, Lines<T>>;
template <class F>
double usPerCall(F&& f) {
  double best = 1e9;
  for (int rep = 0; rep < 5; ++rep) {
    const int n = 2000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) f();
    best = std::min(best, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n);
  }
  return best;
}
// One LSTM's W_hh packed as the addon packs it, T rows of input projection, c, and h in two buffers of max(H, P)
// (a step reads P and writes H): step s reads buffer s % 2 and writes the other, for the unit groups [q0, q1).
struct Float32Lstm {
  static constexpr const char* name = "float32 ";
  int H, P, groups, hStride;
  XgLayout xl;
  Vec<float> h, c, panels, packedBias, xg;
  Float32Lstm(int H, int P, int T)
      : H(H), P(P), groups(packedGroups(H)), hStride(std::max(H, P)), xl(XgLayout::byGroups(4, T, packedUnits())),
        h(2 * hStride), c(H, 0.f),
        panels(groups * panelFloats(CellKind::Lstm, 0, P)), packedBias(groups * packedBiasFloats()),
        xg(XgLayout::floats(T, 4, groups, packedUnits()), 0.f) {
    Vec<float> w(size_t(4) * H * P), bias(4 * H + H, 0.f);
    for (auto& v : w) v = float(rand() % 100 - 50) * 1e-3f;
    for (auto& v : h) v = float(rand() % 100 - 50) * 1e-2f;
    packPanels(CellKind::Lstm, nullptr, 0, w.data(), P, bias.data(), bias.data() + 4 * H, H, 0, groups, panels.data(),
               packedBias.data());
  }
  size_t groupBytes() const { return panelFloats(CellKind::Lstm, 0, P) * sizeof(float); }
  void step(int q0, int q1, int s) {
    packedStep(PackedStepArgs{CellKind::Lstm, 1, 0, P, H, nullptr, 0, xl.at(xg.data(), s), xl, h.data() + (s % 2) * hStride,
                              panels.data(), packedBias.data(), q0, q1, c.data(), h.data() + (1 - s % 2) * hStride, H, nullptr, 0});
  }
};
struct Bfloat16Lstm {
  static constexpr const char* name = "bfloat16";
  int H, P, groups, hStride;
  XgLayout xl;
  Vec<uint16_t> h;
  Vec<uint32_t> panels;
  Vec<float> c, packedBias, xg;
  Bfloat16Lstm(int H, int P, int T)
      : H(H), P(P), groups(bf16Groups(H)), hStride(std::max(H, P)), xl(XgLayout::byGroups(4, T, bf16Units())),
        h(2 * hStride),
        panels(groups * bf16PanelWords(4, 0, P)), c(H, 0.f), packedBias(groups * bf16BiasFloats(4)),
        xg(XgLayout::floats(T, 4, groups, bf16Units()), 0.f) {
    Vec<uint16_t> w(size_t(4) * H * P);
    Vec<float> bias(4 * H + H, 0.f);
    for (auto& v : w) v = uint16_t(0x3c00 + (rand() & 0xff) + (rand() & 1) * 0x8000);
    for (auto& v : h) v = uint16_t(0x3c00 + (rand() & 0xff) + (rand() & 1) * 0x8000);
    packBf16Panels(4, nullptr, 0, w.data(), P, H, 0, groups, panels.data());
    packBf16Bias(4, bias.data(), bias.data() + 4 * H, H, 0, groups, packedBias.data());
  }
  size_t groupBytes() const { return bf16PanelWords(4, 0, P) * sizeof(uint32_t); }
  void step(int q0, int q1, int s) {
    bf16Step(Bf16StepArgs{CellKind::Lstm, 1, 0, P, H, nullptr, 0, xl.at(xg.data(), s), xl, h.data() + (s % 2) * hStride, nullptr,
                          panels.data(), packedBias.data(), q0, q1, c.data(), h.data() + (1 - s % 2) * hStride, H, nullptr});
  }
};
// One member's share (half the groups) of a step, alone, in a loop.
template <class Lstm>
void alone(int H, int P) {
  Lstm m(H, P, 1);
  const int q1 = m.groups / 2;
  std::printf("%s H %d P %3d, %d groups (%4zu KB): %.2f us a step\n", Lstm::name, H, P, q1, q1 * m.groupBytes() / 1024,
              usPerCall([&] { m.step(0, q1, 0); }));
}
// A step on two members at once (CPUs 0 and 1, a member's half of the groups each, h shared and handed over with
// one flag per member): the period against each member's kernel time says what the hand-over and the two vCPUs'
// unequal pace cost, measured in the same minute as the kernels alone above. step(rank, s) runs rank's part.
constexpr int kPairSteps = 100;
template <class Step>
void twoMembers(const char* what, Step&& step) {
  struct alignas(64) Flag {
    std::atomic<int> steps{0};
  };
  const int T = kPairSteps, calls = 300;
  Flag done[2];
  double work[2] = {0, 0};
  std::vector<double> period;
  auto member = [&](int rank) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(rank, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    int steps = 0;
    for (int call = 0; call < calls; ++call) {
      double busy = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (int s = 0; s < T; ++s) {
        const auto k0 = std::chrono::steady_clock::now();
        step(rank, s);
        busy += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - k0).count();
        done[rank].steps.store(++steps, std::memory_order_release);
        while (done[1 - rank].steps.load(std::memory_order_acquire) < steps) __builtin_ia32_pause();
      }
      if (call < calls / 10) continue;  // warm-up
      work[rank] += busy / T;
      if (rank == 0) period.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / T);
    }
  };
  std::thread partner(member, 1);
  member(0);
  partner.join();
  std::sort(period.begin(), period.end());
  const int timed = calls - calls / 10;
  std::printf("%s, 2 members at once: a step every %.2f us (median; min %.2f), kernel %.2f / %.2f us\n", what,
              period[period.size() / 2], period[0], work[0] / timed, work[1] / timed);
}
template <class Lstm>
void pair(int H, int P) {
  Lstm m(H, P, kPairSteps);
  char what[64];
  std::snprintf(what, sizeof what, "%s H %d P %3d", Lstm::name, H, P);
  twoMembers(what, [&](int rank, int s) { m.step(rank * m.groups / 2, (rank + 1) * m.groups / 2, s); });
}
int main() {
  alone<Float32Lstm>(256, 256);
  alone<Float32Lstm>(256, 16);
  alone<Bfloat16Lstm>(256, 256);
  alone<Bfloat16Lstm>(256, 16);
  pair<Float32Lstm>(256, 256);
  pair<Bfloat16Lstm>(256, 256);
}
CPP
src=native/cpu
g++ -O3 -std=c++17 -fno-math-errno -fno-trapping-math -I. -o "$dir/probe" "$dir/probe.cpp" \
  $src/packed_step.cpp $src/bf16_step.cpp $src/bf16_pack.cpp $src/simd_level.cpp $src/transpose16.cpp -pthread
"$dir/probe"
