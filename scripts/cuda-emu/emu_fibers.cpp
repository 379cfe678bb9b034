// The fiber scheduler of emu.h: every GPU thread of a launch runs on a fiber of the calling OS thread; a fiber runs
// the launch's threads one after another until one waits (__syncthreads, a warp shuffle, a grid-barrier poll), then
// the next thread gets a fiber of its own, and the waiting fibers hand over to each other round-robin.
#include "emu.h"

#include <sys/mman.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include <cstdio>

namespace emu {

namespace {
constexpr size_t kStackBytes = 64 * 1024;
}  // namespace

// The threads of the blocks that run together (one block, or a whole cooperative grid), handed out in order to
// whichever fiber is free.
struct Group {
  dim3 grid, blockShape;
  std::vector<std::unique_ptr<Block>> blocks;
  unsigned firstBlock = 0, threads = 0, next = 0, total = 0;
  const std::function<void()>* body = nullptr;
  std::vector<Fiber*> live;  // the fibers with a thread to finish, in the order they take turns
  size_t turn = 0;           // the one running
  size_t used = 0;           // fibers taken from the pool
  void* mainSp = nullptr;    // the launching code, while the group runs
  ucontext_t main;
};

namespace {

#if defined(__x86_64__)
// A context switch without the signal-mask system calls of swapcontext: saves the callee-saved registers on the
// current stack, stores its pointer in *save, and continues on the stack `load` (SysV ABI; the MXCSR and x87
// control words, also callee-saved, are the same in every fiber). A new fiber's stack is laid out so that the
// first switch to it "returns" into fiberStart with the Fiber in r12 and the entry function in r13.
extern "C" void emuSwitch(void** save, void* load);
extern "C" void emuFiberStart();
asm(R"(
  .text
  .globl emuSwitch
  .type emuSwitch, @function
emuSwitch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emuSwitch, .-emuSwitch
  .globl emuFiberStart
  .type emuFiberStart, @function
emuFiberStart:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size emuFiberStart, .-emuFiberStart
)");
#endif

void runThreads(Fiber* f);

#if !defined(__x86_64__)
void fiberEntry(unsigned lo, unsigned hi) { runThreads(reinterpret_cast<Fiber*>((uintptr_t(hi) << 32) | uintptr_t(lo))); }
#endif

// Continues `to` (the launching host code when null), saving `from` (the same) to be continued later.
void switchTo(Group& g, Fiber* from, Fiber* to) {
  tCurrent = to;
#if defined(__x86_64__)
  emuSwitch(from ? &from->sp : &g.mainSp, to ? to->sp : g.mainSp);
#else
  swapcontext(from ? &from->context : &g.main, to ? &to->context : &g.main);
#endif
}

void startFiber(Fiber* f) {
#if defined(__SANITIZE_ADDRESS__)
  // the stack's previous fiber left without returning: its frames' poisoned red zones would trip this one
  ASAN_UNPOISON_MEMORY_REGION(f->stack, kStackBytes);
#endif
#if defined(__x86_64__)
  // 16-byte aligned top; 7 words below it: r15 r14 r13 r12 rbx rbp, then the "return address"; after emuSwitch's
  // ret the stack pointer is 16-byte aligned, as a call instruction expects
  uintptr_t top = (reinterpret_cast<uintptr_t>(f->stack) + kStackBytes) & ~uintptr_t(15);
  void** sp = reinterpret_cast<void**>(top - 72);
  sp[0] = sp[1] = sp[4] = sp[5] = nullptr;
  sp[2] = reinterpret_cast<void*>(&runThreads);  // r13
  sp[3] = f;                                      // r12
  sp[6] = reinterpret_cast<void*>(&emuFiberStart);
  f->sp = sp;
#else
  getcontext(&f->context);
  f->context.uc_stack.ss_sp = f->stack;
  f->context.uc_stack.ss_size = kStackBytes;
  f->context.uc_link = nullptr;
  const uintptr_t p = reinterpret_cast<uintptr_t>(f);
  makecontext(&f->context, reinterpret_cast<void (*)()>(fiberEntry), 2, unsigned(p & 0xffffffffu), unsigned(p >> 32));
#endif
}

// Fibers and their stacks, kept for the next launches of the same OS thread. Stacks come 32 to a 2 MiB arena
// that asks for a huge page: a launch may switch between thousands of fibers, each on its own stack, and on 4 KiB
// pages every switch would want another TLB entry.
constexpr size_t kArenaBytes = size_t(2) << 20;
// The lowest bytes of each stack hold a pattern, checked after every launch: a thread that overflowed its stack
// aborts with a message instead of corrupting its neighbour's.
constexpr size_t kStackGuardBytes = 256;
constexpr unsigned char kStackGuardByte = 0x5a;
struct Pool {
  std::vector<std::unique_ptr<Fiber>> fibers;
  std::vector<void*> arenas;
  ~Pool() {
    for (void* a : arenas) std::free(a);
  }
  Fiber* add() {
    const size_t perArena = kArenaBytes / kStackBytes, i = fibers.size();
    if (i % perArena == 0) {
      void* a = std::aligned_alloc(kArenaBytes, kArenaBytes);
      if (!a) throw std::bad_alloc();
      madvise(a, kArenaBytes, MADV_HUGEPAGE);  // a hint: without it the stacks still work
      arenas.push_back(a);
    }
    auto f = std::make_unique<Fiber>();
    f->stack = static_cast<char*>(arenas.back()) + (i % perArena) * kStackBytes;
    std::memset(f->stack, kStackGuardByte, kStackGuardBytes);
    fibers.push_back(std::move(f));
    return fibers.back().get();
  }
};
thread_local Pool tPool;

// A fiber for the group's threads not yet started, after the live ones in the round.
void spawn(Group& g) {
  Fiber* f = g.used < tPool.fibers.size() ? tPool.fibers[g.used].get() : tPool.add();
  ++g.used;
  f->group = &g;
  f->grid = g.grid;
  f->blockShape = g.blockShape;
  startFiber(f);
  g.live.push_back(f);
}

// A fiber's life: run the group's next thread to its end, then the next, until none is left; then leave the round
// (the last one back to the launching code).
void runThreads(Fiber* f) {
  Group& g = *f->group;
  while (g.next < g.total) {
    const unsigned i = g.next++;
    f->thread = uint3{i % g.threads, 0, 0};
    f->block = uint3{g.firstBlock + i / g.threads, 0, 0};
    f->owner = g.blocks[i / g.threads].get();
    (*g.body)();
  }
  g.live.erase(g.live.begin() + long(g.turn));
  if (g.live.empty()) switchTo(g, f, nullptr);
  if (g.turn == g.live.size()) g.turn = 0;
  switchTo(g, f, g.live[g.turn]);
}

}  // namespace

constinit thread_local Fiber* tCurrent __attribute__((tls_model("initial-exec"))) = nullptr;

// The waiting fiber hands over to the next in the round, directly (one switch per wait); a new fiber first, for
// the threads not yet started, when there are some.
void yield() {
  Fiber* f = tCurrent;
  if (!f) return;  // host code (e.g. a test driving a kernel's helpers directly)
  Group& g = *f->group;
  if (g.next < g.total) spawn(g);
  if (++g.turn == g.live.size()) g.turn = 0;
  Fiber* to = g.live[g.turn];
  if (to != f) switchTo(g, f, to);
}

void runGrid(dim3 grid, dim3 block, size_t dynamicSharedBytes, bool cooperative, const std::function<void()>& body) {
  if (tCurrent) throw std::runtime_error("emu: a kernel launched from inside a kernel");
  const unsigned threads = block.x * block.y * block.z, blocks = grid.x * grid.y * grid.z;
  if (threads == 0 || blocks == 0) return;
  if (block.y != 1 || block.z != 1 || grid.y != 1 || grid.z != 1 || threads % 32 != 0 || threads > 1024) {
    throw std::runtime_error("emu: only 1-D grids of whole warps are emulated");
  }
  const unsigned together = cooperative ? blocks : 1;
  for (unsigned first = 0; first < blocks; first += together) {
    Group g;
    g.grid = grid;
    g.blockShape = block;
    g.firstBlock = first;
    g.threads = threads;
    g.total = together * threads;
    g.body = &body;
    for (unsigned b = 0; b < together; ++b) {
      auto st = std::make_unique<Block>();
      st->threads = threads;
      st->warpArrived.assign(threads / 32, 0);
      st->warpGeneration.assign(threads / 32, 0);
      st->warpValues.assign(2 * size_t(threads), 0.f);
      st->dynamicShared.resize(dynamicSharedBytes / sizeof(float4) + 1);
      g.blocks.push_back(std::move(st));
    }
    spawn(g);
    switchTo(g, nullptr, g.live[0]);
    for (size_t i = 0; i < g.used; ++i) {
      const char* low = tPool.fibers[i]->stack;
      if (std::any_of(low, low + kStackGuardBytes, [](char v) { return v != char(kStackGuardByte); })) {
        std::fprintf(stderr, "emu: a GPU thread overflowed its %zu-byte fiber stack\n", kStackBytes);
        std::abort();
      }
    }
  }
}

}  // namespace emu

void __syncthreads() {
  emu::Block& b = emu::currentBlockState();
  const unsigned generation = b.generation;
  if (++b.arrived == b.threads) {
    b.arrived = 0;
    ++b.generation;
    return;
  }
  while (b.generation == generation) emu::yield();
}

int __syncthreads_and(int predicate) {
  emu::Block& b = emu::currentBlockState();
  if (!predicate) b.anyFalse = true;
  __syncthreads();
  const bool all = !b.anyFalse;
  __syncthreads();
  if (threadIdx.x == 0) b.anyFalse = false;
  __syncthreads();
  return all;
}

namespace {
void warpBarrier(emu::Block& b, unsigned warp) {
  const unsigned generation = b.warpGeneration[warp];
  if (++b.warpArrived[warp] == 32) {
    b.warpArrived[warp] = 0;
    ++b.warpGeneration[warp];
    return;
  }
  while (b.warpGeneration[warp] == generation) emu::yield();
}
}  // namespace

// One barrier per exchange: exchanges alternate between two halves of warpValues, and a lane can only write the
// half it read from two exchanges ago once every lane has passed the exchange in between (so has read).
float __shfl_xor_sync(unsigned, float v, int laneMask) {
  emu::Block& b = emu::currentBlockState();
  const unsigned t = threadIdx.x, warp = t / 32, lane = t % 32;
  float* values = b.warpValues.data() + (b.warpGeneration[warp] & 1) * b.threads;
  values[t] = v;
  warpBarrier(b, warp);
  return values[warp * 32 + (lane ^ unsigned(laneMask))];
}
