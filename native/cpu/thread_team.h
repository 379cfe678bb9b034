// A team of threads for one native call: the caller is rank 0, the others come from a pool of threads kept
// between calls (kept off the caller's CPU). Members meet at a barrier, or hand work over in BlockPhases; both
// spin for a few microseconds, then sleep on a futex, so a busy or oversubscribed machine degrades gracefully
// instead of burning the cores.
#pragma once
#include <atomic>
#include <functional>
#include <memory>

namespace rnn::cpu {

class SpinBarrier {
 public:
  explicit SpinBarrier(int size) : size_(size) {}
  void wait();

 private:
  const int size_;
  std::atomic<int> arrived_{0};
  std::atomic<int> generation_{0};
  std::atomic<int> sleepers_{0};
};

// Work in phases of `blocks` blocks (a recurrence: phase 0 prepares each block, phase 1 + s is step s): block k
// of phase p runs exactly once, by whichever member claims it, once every block of phase p - 1 has finished.
// Members claim their own blocks (k = rank, rank + size, ...) first and the others' only when those are still
// unclaimed after their own, so on a quiet machine each member keeps its blocks (and their weights in its
// cache) while a member that is descheduled, or shares a core with its partner, or starts late, only does less
// of the work instead of holding every step up at a barrier (measured: with a barrier, a forward at batch 1
// ran 2-10x slower than on one thread whenever the scheduler put both members on one core).
class alignas(64) BlockPhases {
 public:
  BlockPhases(int blocks, int phases);

  // Called by every member; work(phase, block) runs the block.
  template <class Work>
  void run(int rank, int size, Work&& work) {
    int phase = 0;
    bool stole = false;
    while (true) {
      phase = waitForPhase(phase);
      if (phase >= phases_) return;
      const int own = ownCount(rank, size);
      for (int i = 0; i < own; ++i) claimAndRun(phase, rank + i * size, work);
      // Others' blocks only when the phase is still open after a short wait (or the last phase needed a steal):
      // looking at a partner's claim on every step cost a cache-line transfer each time.
      if (own < blocks_ && (stole || !finishesWithin(phase, kStealAfterSpins))) {
        stole = false;
        for (int i = 0; i < blocks_ - own; ++i) stole |= claimAndRun(phase, otherBlock(rank, size, i), work);
      }
      ++phase;
    }
  }

 private:
  // ~3 us of PAUSE on this Zen 5 (PAUSE ~18 ns; ~0.5-7 us on other x86 cores): a partner at work on its block
  // usually finishes within that at batch 1, and one that is absent costs only this much until the first steal.
  static constexpr int kStealAfterSpins = 160;

  template <class Work>
  bool claimAndRun(int phase, int k, Work& work) {
    std::atomic<int>& next = next_[k].value;
    int expected = phase;
    if (next.load(std::memory_order_relaxed) != phase ||
        !next.compare_exchange_strong(expected, phase + 1, std::memory_order_acq_rel)) {
      return false;
    }
    work(phase, k);
    finished();
    return true;
  }
  int ownCount(int rank, int size) const { return rank < blocks_ ? (blocks_ - rank + size - 1) / size : 0; }
  // the i-th block that is not rank's own, in order
  int otherBlock(int rank, int size, int i) const;
  // Waits until every block of phase - 1 has finished; returns the phase now open (later ones when this member
  // fell behind), or phases_ when all work is done.
  int waitForPhase(int phase);
  // Spins until every block of `phase` has finished (true) or `spins` PAUSEs have passed (false).
  bool finishesWithin(int phase, int spins) const;
  void finished();

  // Each block's claim on a line of its own, and the counters on another: members write these every phase, and
  // a line shared with what the partner writes (or with the fields both read) moves between the cores each time.
  struct alignas(64) Claim {
    std::atomic<int> value{0};  // the phase whose work on the block is still unclaimed
  };
  const int blocks_, phases_;
  std::unique_ptr<Claim[]> next_;
  alignas(64) std::atomic<int> done_{0};  // blocks finished, over all phases
  std::atomic<int> sleepers_{0};
};

// A count that one member raises and another waits on (the steps a layer of a stack has finished, while the
// layer above runs on another member: layer_stack.h): the waiter spins briefly, then sleeps, like BlockPhases.
class alignas(64) StepCount {
 public:
  void publish(int n);       // the count is n now (release)
  void awaitAtLeast(int n);  // returns once the count is >= n (acquire)

 private:
  std::atomic<int> value_{0};
  std::atomic<int> sleepers_{0};
};

// Runs fn(rank, size, barrier) on up to `size` threads and returns when all have finished. If threads
// cannot be started, it runs with fewer (at least the caller), so the work is always done.
void runTeam(int size, const std::function<void(int rank, int size, SpinBarrier& barrier)>& fn);

// Whether the pooled threads a team of `size` would take are awake (spinning after a call, or not started yet:
// runTeam starts them), so that a call too short to wait for a sleeping thread's wake-up can still use them.
bool teamAwake(int size);

// [begin, end) of rank's share of n items, in chunks that are multiples of `align` where possible.
inline void shareOf(int n, int rank, int size, int align, int& begin, int& end) {
  int chunk = (n + size - 1) / size;
  chunk = (chunk + align - 1) / align * align;
  begin = rank * chunk < n ? rank * chunk : n;
  end = begin + chunk < n ? begin + chunk : n;
}

}  // namespace rnn::cpu
