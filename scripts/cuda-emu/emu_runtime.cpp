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
  }
}

void enqueue(cudaStream_t stream, std::function<void()> work) {
  Stream* s = reinterpret_cast<Stream*>(stream);
  if (s && s->capturing) s->recording->push_back(std::move(work));
  else work();
}

std::map<const void*, std::function<void(void**)>>& kernels() {
  static std::map<const void*, std::function<void(void**)>> table;
  return table;
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
  auto found = emu::kernels().find(func);
  if (found == emu::kernels().end()) throw std::runtime_error("emu: cooperative launch of an unregistered kernel");
  if (sharedMem > size_t(emu::device().sharedOptin) || grid.x > unsigned(emu::device().sms)) return fail(cudaErrorCooperativeLaunchTooLarge);
  std::function<void(void**)> call = found->second;
  // the arguments are copied now, as a launch does
  std::vector<char> copy(4096);
  std::memcpy(copy.data(), args[0], copy.size());
  emu::enqueue(stream, [=]() mutable {
    void* a[] = {copy.data()};
    emu::runGrid(grid, block, sharedMem, true, [&] { call(a); });
  });
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** p, size_t size, unsigned int) {
  *p = std::calloc(1, size);
  return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaMalloc(void** p, size_t size) {
  std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
  if (emu::gAllocated + size > emu::device().memoryBytes) {
    *p = nullptr;
    return fail(cudaErrorMemoryAllocation);
  }
  *p = std::aligned_alloc(256, (size + 255) / 256 * 256 + 256);
  if (!*p) return fail(cudaErrorMemoryAllocation);
  emu::gAllocations[*p] = size;
  emu::gAllocated += size;
  return cudaSuccess;
}
// The stream-ordered pool keeps freed blocks (up to 1 GiB) for the next allocation of the same size, as the GPU's
// pool does: fresh host memory costs a page fault per 4 KiB on first touch, and a test that allocates and
// frees 64 MiB two hundred times would spend its time there. Kept blocks do not count as allocated.
cudaError_t cudaMallocAsync(void** p, size_t size, cudaStream_t) {
  const size_t rounded = (size + 255) / 256 * 256;
  {
    std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
    auto kept = emu::gPooled.find(rounded);
    if (kept != emu::gPooled.end() && emu::gAllocated + size <= emu::device().memoryBytes) {
      *p = kept->second;
      emu::gPooled.erase(kept);
      emu::gPooledBytes -= rounded;
      emu::gAllocations[*p] = size;
      emu::gAllocated += size;
      return cudaSuccess;
    }
  }
  return cudaMalloc(p, size);
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
  auto found = emu::gAllocations.find(p);
  if (found != emu::gAllocations.end()) {
    emu::gAllocated -= found->second;
    emu::gAllocations.erase(found);
  }
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaFreeAsync(void* p, cudaStream_t stream) {
  emu::enqueue(stream, [p] {
    if (!p) return;
    std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
    auto found = emu::gAllocations.find(p);
    if (found == emu::gAllocations.end()) return;
    const size_t size = found->second, rounded = (size + 255) / 256 * 256;
    emu::gAllocated -= size;
    emu::gAllocations.erase(found);
    if (emu::gPooledBytes + rounded <= emu::kPoolKeepBytes) {
      emu::gPooled.emplace(rounded, p);
      emu::gPooledBytes += rounded;
    } else {
      std::free(p);
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
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, enum cudaMemcpyKind, cudaStream_t stream) {
  emu::enqueue(stream, [=] { std::memmove(dst, src, n); });
  return cudaSuccess;
}
cudaError_t cudaMemcpyPeerAsync(void* dst, int, const void* src, int, size_t n, cudaStream_t stream) {
  return cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream);
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t stream) {
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
