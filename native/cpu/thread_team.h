// A team of threads for one native call: the caller is rank 0, the others are started for the call.
// Members meet at a barrier once or twice per time step: it spins for a few microseconds, then sleeps on
// a futex, so a busy or oversubscribed machine degrades gracefully instead of burning the cores.
#pragma once
#include <atomic>
#include <functional>

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

// Runs fn(rank, size, barrier) on up to `size` threads and returns when all have finished. If threads
// cannot be started, it runs with fewer (at least the caller), so the work is always done.
void runTeam(int size, const std::function<void(int rank, int size, SpinBarrier& barrier)>& fn);

// [begin, end) of rank's share of n items, in chunks that are multiples of `align` where possible.
inline void shareOf(int n, int rank, int size, int align, int& begin, int& end) {
  int chunk = (n + size - 1) / size;
  chunk = (chunk + align - 1) / align * align;
  begin = rank * chunk < n ? rank * chunk : n;
  end = begin + chunk < n ? begin + chunk : n;
}

}  // namespace rnn::cpu
