#include "thread_team.h"

#include <climits>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define RNN_PAUSE() _mm_pause()
#else
#define RNN_PAUSE() std::this_thread::yield()
#endif

namespace rnn::cpu {

namespace {

// Sleep until *word != expected (Linux futex); elsewhere, yield.
void sleepWhileEqual(std::atomic<int>& word, int expected) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  (void)word;
  (void)expected;
  std::this_thread::yield();
#endif
}

void wakeAll(std::atomic<int>& word) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
  (void)word;
#endif
}

}  // namespace

// Spin briefly (a step's partner usually arrives within microseconds on an idle machine), then sleep on a
// futex: when the machine is busy, spinning members would steal the cores the late member needs.
void SpinBarrier::wait() {
  if (size_ == 1) return;
  const int generation = generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == size_ - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    // seq_cst on both sides (here and below): a sleeper either sees the new generation or is seen and woken
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) wakeAll(generation_);
    return;
  }
  for (int spins = 0; spins < 4000; ++spins) {
    if (generation_.load(std::memory_order_acquire) != generation) return;
    RNN_PAUSE();
  }
  sleepers_.fetch_add(1);
  while (generation_.load() == generation) sleepWhileEqual(generation_, generation);
  sleepers_.fetch_sub(1);
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
