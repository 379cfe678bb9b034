#include "thread_team.h"

#include <climits>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
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

// Spins briefly, then sleeps on `word` until it is >= needed (sleepers counts the sleepers, for the writer's wake);
// returns the value seen. seq_cst on the sleeping side (and on the writer's store then sleepers load): a sleeper
// either sees the new value or is seen and woken.
int awaitAtLeastOn(std::atomic<int>& word, std::atomic<int>& sleepers, int needed) {
  int v = word.load(std::memory_order_acquire);
  for (int spins = 0; v < needed && spins < 4000; ++spins) {
    RNN_PAUSE();
    v = word.load(std::memory_order_acquire);
  }
  if (v >= needed) return v;
  sleepers.fetch_add(1);
  while ((v = word.load()) < needed) sleepWhileEqual(word, v);
  sleepers.fetch_sub(1);
  return v;
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

BlockPhases::BlockPhases(int blocks, int phases) : blocks_(blocks), phases_(phases), next_(new Claim[blocks]) {}

int BlockPhases::otherBlock(int rank, int size, int i) const {
  for (int k = 0; k < blocks_; ++k) {
    if (k % size == rank) continue;
    if (i-- == 0) return k;
  }
  return 0;
}

// Spins briefly, then sleeps on done_ like SpinBarrier::wait.
int BlockPhases::waitForPhase(int phase) { return awaitAtLeastOn(done_, sleepers_, phase * blocks_) / blocks_; }

bool BlockPhases::finishesWithin(int phase, int spins) const {
  const int needed = (phase + 1) * blocks_;
  for (int i = 0; i < spins; ++i) {
    if (done_.load(std::memory_order_acquire) >= needed) return true;
    RNN_PAUSE();
  }
  return done_.load(std::memory_order_acquire) >= needed;
}

void BlockPhases::finished() {
  // seq_cst (here and in waitForPhase): a sleeper either sees the new count or is seen and woken
  const int done = done_.fetch_add(1) + 1;
  if (done % blocks_ == 0 && sleepers_.load() > 0) wakeAll(done_);
}

void StepCount::publish(int n) {
  // seq_cst (here and in awaitAtLeast): a sleeper either sees the new count or is seen and woken
  value_.store(n);
  if (sleepers_.load() > 0) wakeAll(value_);
}

void StepCount::awaitAtLeast(int n) { awaitAtLeastOn(value_, sleepers_, n); }

namespace {

struct Team {
  const std::function<void(int, int, SpinBarrier&)>* fn;
  int size;
  SpinBarrier barrier;
  Team(const std::function<void(int, int, SpinBarrier&)>* f, int n) : fn(f), size(n), barrier(n) {}
};

// A member thread kept between calls: it spins briefly after a call, then sleeps on `calls` until the next.
// (A thread started per call was measured to cost ~25 us, and on a busy machine a new thread can wait a whole
// scheduler slice before it first runs, while a sleeper that is woken runs at once.) Its counters live here,
// not in the caller's Team, so that nothing it touches after its share of a call can go out of scope.
struct Worker {
  std::atomic<int> calls{0};     // calls handed to it
  std::atomic<int> finished{0};  // calls it has finished
  std::atomic<int> sleeping{0};
  std::atomic<int> callerWaiting{0};
  Team* team = nullptr;
  int rank = 0;
  std::thread::native_handle_type handle{};
  int keptOff = -1;  // the CPU it was last kept off (see keepOffCaller)
};

// A worker woken by the caller is often queued on the caller's own CPU (the scheduler's wake-affine choice)
// and then waits there, while the caller runs the whole recurrence, until a balancer moves it (measured:
// most batch-1 LSTM calls ran on one core). So each worker is kept off the caller's CPU, re-pinned only when
// the caller has moved.
void keepOffCaller(Worker* w) {
#if defined(__linux__)
  const int cpu = sched_getcpu();
  if (cpu < 0 || cpu == w->keptOff || cpu >= CPU_SETSIZE) return;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return;
  CPU_CLR(cpu, &set);
  if (CPU_COUNT(&set) == 0) return;
  if (pthread_setaffinity_np(w->handle, sizeof set, &set) == 0) w->keptOff = cpu;
#else
  (void)w;
#endif
}

// Spin for a few microseconds, then sleep until word != value.
void waitWhileEqual(std::atomic<int>& word, int value, std::atomic<int>& sleepFlag) {
  for (int spins = 0; spins < 4000; ++spins) {
    if (word.load(std::memory_order_acquire) != value) return;
    RNN_PAUSE();
  }
  // seq_cst (here and at the writer's store then flag load): the writer either sees the flag or is seen
  sleepFlag.store(1);
  while (word.load() == value) sleepWhileEqual(word, value);
  sleepFlag.store(0);
}

void workerLoop(Worker* w) {
  for (int seen = 0;; ++seen) {
    waitWhileEqual(w->calls, seen, w->sleeping);
    Team& team = *w->team;
    (*team.fn)(w->rank, team.size, team.barrier);
    w->finished.store(seen + 1);
    if (w->callerWaiting.load()) wakeAll(w->finished);
  }
}

// Idle workers, shared by every thread that runs a team (libuv threads, worker_threads); never destroyed, so
// that a worker never outlives what it touches at process exit.
struct Pool {
  std::mutex mutex;
  std::vector<Worker*> idle;
};

Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

// The idle workers runTeam(size) would take are the last size - 1; those not started yet count as awake.
bool teamAwake(int size) {
  std::lock_guard<std::mutex> lock(pool().mutex);
  const std::vector<Worker*>& idle = pool().idle;
  for (int i = 0; i < size - 1 && i < int(idle.size()); ++i) {
    if (idle[idle.size() - 1 - i]->sleeping.load()) return false;
  }
  return true;
}

void runTeam(int size, const std::function<void(int, int, SpinBarrier&)>& fn) {
  if (size <= 1) {
    SpinBarrier barrier(1);
    fn(0, 1, barrier);
    return;
  }
  std::vector<Worker*> workers;
  {
    std::lock_guard<std::mutex> lock(pool().mutex);
    std::vector<Worker*>& idle = pool().idle;
    while (int(workers.size()) < size - 1 && !idle.empty()) {
      workers.push_back(idle.back());
      idle.pop_back();
    }
  }
  while (int(workers.size()) < size - 1) {
    Worker* w = new Worker();
    try {
      std::thread thread(workerLoop, w);
      w->handle = thread.native_handle();
      thread.detach();
    } catch (...) {
      delete w;  // fewer threads than asked: run with those there are
      break;
    }
    workers.push_back(w);
  }
  const int n = int(workers.size()) + 1;
  Team team(&fn, n);
  for (int i = 0; i < n - 1; ++i) {
    Worker* w = workers[i];
    keepOffCaller(w);
    w->team = &team;
    w->rank = i + 1;
    w->calls.fetch_add(1);
    if (w->sleeping.load()) wakeAll(w->calls);
  }
  fn(0, n, team.barrier);
  for (Worker* w : workers) waitWhileEqual(w->finished, w->calls.load(std::memory_order_relaxed) - 1, w->callerWaiting);
  std::lock_guard<std::mutex> lock(pool().mutex);
  for (Worker* w : workers) pool().idle.push_back(w);
}

}  // namespace rnn::cpu
