#include "thread_team.h"

#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define RNN_PAUSE() _mm_pause()
#else
#define RNN_PAUSE() std::this_thread::yield()
#endif

namespace rnn::cpu {

void SpinBarrier::wait() {
  if (size_ == 1) return;
  const int generation = generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == size_ - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    return;
  }
  for (int spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins) {
    if (spins < 20000) RNN_PAUSE();
    else std::this_thread::yield();
  }
}

void runTeam(int size, const std::function<void(int, int, SpinBarrier&)>& fn) {
  if (size <= 1) {
    SpinBarrier barrier(1);
    fn(0, 1, barrier);
    return;
  }
  // Members wait for the final team size before starting, so a failed thread start only shrinks the team.
  std::atomic<int> teamSize{0};
  std::vector<std::thread> threads;
  SpinBarrier* barrier = nullptr;
  auto member = [&](int rank) {
    int n;
    while ((n = teamSize.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
    if (rank < n) fn(rank, n, *barrier);
  };
  try {
    for (int rank = 1; rank < size; ++rank) threads.emplace_back(member, rank);
  } catch (...) {
    // fewer threads than asked: run with those that started
  }
  const int n = int(threads.size()) + 1;
  SpinBarrier shared(n);
  barrier = &shared;
  teamSize.store(n, std::memory_order_release);
  fn(0, n, shared);
  for (auto& t : threads) t.join();
}

}  // namespace rnn::cpu
