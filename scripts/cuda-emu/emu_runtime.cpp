// The emulated device of emu.h: the fiber scheduler that runs kernels, and the CUDA runtime and cuBLAS calls of
// this project's host code (declared by cuda_runtime_api.h and scripts/cuda-stub/cublas_v2.h), on host memory.
// Streams run their work as it is issued (which honours every dependency the code orders by events), or record it
// while captured; a graph replays what was recorded.
#include "emu.h"

#include <cublas_v2.h>
#ifdef EMU_CBLAS
#include <cblas.h>
#endif
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <sys/mman.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include <atomic>
#include <cstdio>
#include <mutex>

namespace emu {

namespace {

constexpr size_t kStackBytes = 64 * 1024;

struct Stream {
  bool capturing = false;
  std::vector<std::function<void()>>* recording = nullptr;
};

struct Graph {
  std::vector<std::function<void()>> work;
};

std::mutex gMemoryMutex;
std::map<void*, size_t> gAllocations;
size_t gAllocated = 0;
std::multimap<size_t, void*> gPooled;  // freed through the pool, by rounded size
size_t gPooledBytes = 0;
constexpr size_t kPoolKeepBytes = size_t(1) << 30;

// How device memory is laid out on the host, checked for accesses out of bounds:
// - by default each allocation sits between red zones (256 bytes before it, and from its end to 256 bytes past
//   its size rounded up to 256) filled with a pattern that is checked when it is freed: a kernel that wrote out of
//   bounds aborts with a message instead of corrupting the host heap silently;
// - in an AddressSanitizer build (build-addon.sh with EMU_SANITIZE=1) it is exactly its size, ASan's own red zones
//   at both ends: every access out of bounds is reported where it happens;
// - with EMU_GUARD_PAGES=1 it has pages of its own, its end (rounded to 16 bytes) against an inaccessible page,
//   another before it, unmapped when freed: an access past the end, far before the start or after the free
//   faults at the instruction that made it, where a debugger shows it.
// The last two keep no pool (a reused block would hide a use after free). The callers hold gMemoryMutex.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
constexpr size_t kRedZone = kSanitized ? 0 : 256;
constexpr unsigned char kRedByte = 0xa5;
constexpr size_t kPage = 4096;

size_t roundedSize(size_t size) { return (size + 255) / 256 * 256; }
size_t guardedSize(size_t size) { return (size + 15) / 16 * 16; }  // float4 loads need 16-byte alignment
size_t guardedPages(size_t size) { return (guardedSize(size) + kPage - 1) / kPage; }

bool guardPages() {
  static const bool on = [] {
    const char* v = std::getenv("EMU_GUARD_PAGES");
    return v && std::strcmp(v, "1") == 0;
  }();
  return on;
}

bool pooling() { return !kSanitized && !guardPages(); }

// A new block of host memory for an allocation of `size` bytes (null when there is none).
void* hostAllocate(size_t size) {
  if (guardPages()) {
    const size_t pages = guardedPages(size);
    void* map = mmap(nullptr, (pages + 2) * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return nullptr;
    char* base = static_cast<char*>(map);
    mprotect(base, kPage, PROT_NONE);
    mprotect(base + (pages + 1) * kPage, kPage, PROT_NONE);
    return base + (pages + 1) * kPage - guardedSize(size);
  }
  void* block = nullptr;
  if (posix_memalign(&block, 256, kSanitized ? std::max<size_t>(size, 1) : roundedSize(size) + 2 * kRedZone) != 0) return nullptr;
  return static_cast<char*>(block) + kRedZone;
}

void hostRelease(void* p, size_t size) {
  if (guardPages()) {
    char* end = static_cast<char*>(p) + guardedSize(size);
    munmap(end - (guardedPages(size) + 1) * kPage, (guardedPages(size) + 2) * kPage);
  } else {
    std::free(static_cast<char*>(p) - kRedZone);
  }
}

bool redZones() { return kRedZone > 0 && !guardPages(); }

void track(void* p, size_t size) {
  if (redZones()) {
    char* c = static_cast<char*>(p);
    std::memset(c - kRedZone, kRedByte, kRedZone);
    std::memset(c + size, kRedByte, roundedSize(size) + kRedZone - size);
  }
  gAllocations[p] = size;
  gAllocated += size;
}

// Returns the allocation's size.
size_t untrack(void* p) {
  auto found = gAllocations.find(p);
  if (found == gAllocations.end()) {
    std::fprintf(stderr, "emu: cudaFree of %p, which is not a live device allocation\n", p);
    std::abort();
  }
  const size_t size = found->second;
  const unsigned char* c = static_cast<const unsigned char*>(p);
  auto clean = [](const unsigned char* from, size_t n) { return std::all_of(from, from + n, [](unsigned char v) { return v == kRedByte; }); };
  if (redZones() && (!clean(c - kRedZone, kRedZone) || !clean(c + size, roundedSize(size) + kRedZone - size))) {
    std::fprintf(stderr, "emu: device memory written out of bounds of the allocation of %zu bytes at %p (found when freed)\n", size, p);
    std::abort();
  }
  gAllocated -= size;
  gAllocations.erase(found);
  return size;
}

// The device side of a copy or memset that starts inside a live allocation must end inside it too. (One that
// starts elsewhere is let through: the emulator's own tests hand host vectors to the backend as device memory.)
void checkDeviceRange(const void* p, size_t n, const char* call) {
  if (n == 0) return;
  std::lock_guard<std::mutex> lock(gMemoryMutex);
  auto after = gAllocations.upper_bound(const_cast<void*>(p));
  if (after == gAllocations.begin()) return;
  auto at = std::prev(after);
  const char* base = static_cast<const char*>(at->first);
  const char* c = static_cast<const char*>(p);
  if (c >= base + at->second || c + n <= base + at->second) return;
  std::fprintf(stderr, "emu: %s of %zu bytes at offset %zu of a device allocation of %zu bytes runs past its end\n", call, n,
               size_t(c - base), at->second);
  std::abort();
}

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

void enqueue(cudaStream_t stream, std::function<void()> work) {
  Stream* s = reinterpret_cast<Stream*>(stream);
  if (s && s->capturing) s->recording->push_back(std::move(work));
  else work();
}

namespace {
std::mutex gBindersMutex;
std::map<const void*, BindArgs> gBinders;
}  // namespace

void registerBinder(const void* kernel, BindArgs bind) {
  std::lock_guard<std::mutex> lock(gBindersMutex);
  gBinders.emplace(kernel, std::move(bind));
}

// Null when the kernel was never registered.
std::function<void()> bindLaunch(const void* kernel, void** args) {
  BindArgs bind;
  {
    std::lock_guard<std::mutex> lock(gBindersMutex);
    auto found = gBinders.find(kernel);
    if (found == gBinders.end()) return nullptr;
    bind = found->second;
  }
  return bind(args);
}

Device& device() {
  static Device d;
  return d;
}

Counters& counters() {
  static Counters c;
  return c;
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
// ---------------------------------------------------------------------------------------------------------------
// The CUDA runtime

namespace {
thread_local cudaError_t tLastError = cudaSuccess;
cudaError_t fail(cudaError_t e) {
  tLastError = e;
  return e;
}
}  // namespace

extern "C" {
cudaError_t cudaGetLastError(void) {
  const cudaError_t e = tLastError;
  tLastError = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return tLastError; }
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorCooperativeLaunchTooLarge: return "too many blocks in cooperative launch";
    default: return "emulated CUDA error";
  }
}
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  std::memset(prop, 0, sizeof *prop);
  std::strcpy(prop->name, "Emulated GPU (scripts/cuda-emu)");
  prop->multiProcessorCount = emu::device().sms;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int) {
  switch (attr) {
    case cudaDevAttrCooperativeLaunch: *value = 1; break;
    case cudaDevAttrMultiProcessorCount: *value = emu::device().sms; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = emu::device().sharedOptin; break;
    default: return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaFuncSetAttribute(const void*, enum cudaFuncAttribute, int) { return cudaSuccess; }
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, const void*, int, size_t sharedBytes) {
  *numBlocks = sharedBytes <= size_t(emu::device().sharedOptin) ? 1 : 0;
  return cudaSuccess;
}
cudaError_t cudaLaunchCooperativeKernel(const void* func, dim3 grid, dim3 block, void** args, size_t sharedMem, cudaStream_t stream) {
  if (sharedMem > size_t(emu::device().sharedOptin) || grid.x > unsigned(emu::device().sms)) return fail(cudaErrorCooperativeLaunchTooLarge);
  std::function<void()> call = emu::bindLaunch(func, args);
  if (!call) throw std::runtime_error("emu: cooperative launch of an unregistered kernel");
  emu::enqueue(stream, [=] { emu::runGrid(grid, block, sharedMem, true, call); });
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** p, size_t size, unsigned int) {
  *p = std::calloc(1, size);
  return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaMalloc(void** p, size_t size) {
  std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
  *p = emu::gAllocated + size <= emu::device().memoryBytes ? emu::hostAllocate(size) : nullptr;
  if (!*p) return fail(cudaErrorMemoryAllocation);
  emu::track(*p, size);
  return cudaSuccess;
}
// The stream-ordered pool keeps freed blocks (up to 1 GiB) for the next allocation of the same rounded size, as the
// GPU's pool does: fresh host memory costs a page fault per 4 KiB on first touch, and a test that allocates and
// frees 64 MiB two hundred times would spend its time there. Kept blocks do not count as allocated.
cudaError_t cudaMallocAsync(void** p, size_t size, cudaStream_t) {
  {
    std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
    auto kept = emu::gPooled.find(emu::roundedSize(size));
    if (kept != emu::gPooled.end() && emu::gAllocated + size <= emu::device().memoryBytes) {
      *p = kept->second;
      emu::gPooledBytes -= kept->first;
      emu::gPooled.erase(kept);
      emu::track(*p, size);
      return cudaSuccess;
    }
  }
  return cudaMalloc(p, size);
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
  emu::hostRelease(p, emu::untrack(p));
  return cudaSuccess;
}
cudaError_t cudaFreeAsync(void* p, cudaStream_t stream) {
  emu::enqueue(stream, [p] {
    if (!p) return;
    std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
    const size_t size = emu::untrack(p), rounded = emu::roundedSize(size);
    if (emu::pooling() && emu::gPooledBytes + rounded <= emu::kPoolKeepBytes) {
      emu::gPooled.emplace(rounded, p);
      emu::gPooledBytes += rounded;
    } else {
      emu::hostRelease(p, size);
    }
  });
  return cudaSuccess;
}
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int) {
  static char dummy;
  *pool = reinterpret_cast<cudaMemPool_t>(&dummy);
  return cudaSuccess;
}
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, enum cudaMemPoolAttr, void*) { return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, enum cudaMemcpyKind kind, cudaStream_t stream) {
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice) emu::checkDeviceRange(dst, n, "cudaMemcpyAsync (destination)");
  if (kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice) emu::checkDeviceRange(src, n, "cudaMemcpyAsync (source)");
  emu::enqueue(stream, [=] { std::memmove(dst, src, n); });
  return cudaSuccess;
}
cudaError_t cudaMemcpyPeerAsync(void* dst, int, const void* src, int, size_t n, cudaStream_t stream) {
  return cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream);
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t stream) {
  emu::checkDeviceRange(p, n, "cudaMemsetAsync");
  emu::enqueue(stream, [=] { std::memset(p, value, n); });
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  *s = reinterpret_cast<cudaStream_t>(new emu::Stream());
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned int) { return cudaSuccess; }
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode) {
  emu::Stream* s = reinterpret_cast<emu::Stream*>(stream);
  if (!s || s->capturing) return fail(cudaErrorInvalidValue);
  s->capturing = true;
  s->recording = &(new emu::Graph())->work;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  emu::Stream* s = reinterpret_cast<emu::Stream*>(stream);
  if (!s || !s->capturing) return fail(cudaErrorInvalidValue);
  // the Graph is the struct whose first member is the recorded work
  *graph = reinterpret_cast<cudaGraph_t>(reinterpret_cast<emu::Graph*>(s->recording));
  s->capturing = false;
  s->recording = nullptr;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  *exec = reinterpret_cast<cudaGraphExec_t>(new emu::Graph(*reinterpret_cast<emu::Graph*>(graph)));
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  const emu::Graph* g = reinterpret_cast<const emu::Graph*>(exec);
  for (const auto& work : g->work) emu::enqueue(stream, work);
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete reinterpret_cast<emu::Graph*>(graph);
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete reinterpret_cast<emu::Graph*>(exec);
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = reinterpret_cast<cudaEvent_t>(new char);
  ++emu::counters().eventsCreated;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete reinterpret_cast<char*>(e);
  ++emu::counters().eventsDestroyed;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
}

// ---------------------------------------------------------------------------------------------------------------
// cuBLAS, column-major as the library: C = alpha op(A) op(B) + beta C, summed in float64 and rounded once (or, in
// float32, through the CPU's BLAS where one is linked)

namespace {

struct Handle {
  cudaStream_t stream = nullptr;
};

cudaStream_t streamOf(cublasHandle_t h) { return reinterpret_cast<Handle*>(h)->stream; }

float load(const void* p, cudaDataType type, size_t i) {
  switch (type) {
    case CUDA_R_16F: return __half2float(static_cast<const __half*>(p)[i]);
    case CUDA_R_16BF: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

void store(void* p, cudaDataType type, size_t i, float v) {
  switch (type) {
    case CUDA_R_16F: static_cast<__half*>(p)[i] = __float2half_rn(v); break;
    case CUDA_R_16BF: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v); break;
    default: static_cast<float*>(p)[i] = v; break;
  }
}

void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const void* A, cudaDataType ta_, int lda,
          const void* B, cudaDataType tb_, int ldb, float beta, void* C, cudaDataType tc, int ldc) {
  ++emu::counters().gemms;
#ifdef EMU_CBLAS
  // the addon's build (build-addon.sh) links a CPU BLAS: float32 products through it, as fast as the CPU backend
  if (ta_ == CUDA_R_32F && tb_ == CUDA_R_32F && tc == CUDA_R_32F) {
    if (m == 0 || n == 0) return;
    cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k,
                alpha, static_cast<const float*>(A), lda, static_cast<const float*>(B), ldb, beta, static_cast<float*>(C), ldc);
    return;
  }
#endif
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) {
      double sum = 0;
      for (int p = 0; p < k; ++p) {
        const float a = ta == CUBLAS_OP_N ? load(A, ta_, i + size_t(p) * lda) : load(A, ta_, p + size_t(i) * lda);
        const float b = tb == CUBLAS_OP_N ? load(B, tb_, p + size_t(j) * ldb) : load(B, tb_, j + size_t(p) * ldb);
        sum += double(a) * b;
      }
      const size_t c = i + size_t(j) * ldc;
      store(C, tc, c, float(alpha * sum + (beta == 0.f ? 0.0 : double(beta) * load(C, tc, c))));
    }
  }
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = reinterpret_cast<cublasHandle_t>(new Handle());
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  delete reinterpret_cast<Handle*>(h);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  reinterpret_cast<Handle*>(h)->stream = s;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void*, size_t) { return CUBLAS_STATUS_SUCCESS; }
const char* cublasGetStatusString(cublasStatus_t) { return "emulated cuBLAS error"; }
cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
                           const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc) {
  const float al = *alpha, be = *beta;
  emu::enqueue(streamOf(h), [=] { gemm(ta, tb, m, n, k, al, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, be, C, CUDA_R_32F, ldc); });
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemv(cublasHandle_t h, cublasOperation_t ta, int m, int n, const float* alpha, const float* A, int lda,
                           const float* x, int incx, const float* beta, float* y, int incy) {
  const float al = *alpha, be = *beta;
  emu::enqueue(streamOf(h), [=] {
    const int rows = ta == CUBLAS_OP_N ? m : n, cols = ta == CUBLAS_OP_N ? n : m;
    for (int i = 0; i < rows; ++i) {
      double sum = 0;
      for (int j = 0; j < cols; ++j) {
        const float a = ta == CUBLAS_OP_N ? A[i + size_t(j) * lda] : A[j + size_t(i) * lda];
        sum += double(a) * x[size_t(j) * incx];
      }
      float& out = y[size_t(i) * incy];
      out = float(al * sum + (be == 0.f ? 0.0 : double(be) * out));
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType Atype, int lda, const void* B, cudaDataType Btype, int ldb, const void* beta,
                            void* C, cudaDataType Ctype, int ldc, cublasComputeType_t, cublasGemmAlgo_t) {
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  emu::enqueue(streamOf(h), [=] { gemm(ta, tb, m, n, k, al, A, Atype, lda, B, Btype, ldb, be, C, Ctype, ldc); });
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda, long long strideA, const float* B, int ldb,
                                         long long strideB, const float* beta, float* C, int ldc, long long strideC, int batchCount) {
  const float al = *alpha, be = *beta;
  emu::enqueue(streamOf(h), [=] {
    for (int i = 0; i < batchCount; ++i) {
      gemm(ta, tb, m, n, k, al, A + i * strideA, CUDA_R_32F, lda, B + i * strideB, CUDA_R_32F, ldb, be, C + i * strideC, CUDA_R_32F, ldc);
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}
