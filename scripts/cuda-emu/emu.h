// Runs this project's CUDA kernels on the CPU, where no GPU is (CI). Every GPU thread of a launch runs on a fiber
// of the calling OS thread, deterministically: a fiber runs the launch's threads one after another until one
// waits (__syncthreads, a warp shuffle, a grid-barrier poll); only then does the next thread get a fiber of its
// own, and the waiting fibers run round-robin. So kernels without barriers cost a function call per thread,
// while barriers, shuffles and a cooperative grid (all its blocks scheduled together) behave as on a GPU.
// Kernels launched with <<<>>> come through transform.py, which rewrites launches into emu::launcher(...)(args)
// and shared-memory declarations into per-block storage. emu_fibers.cpp schedules the fibers; the CUDA runtime and
// cuBLAS calls are answered by emu_runtime.cpp (streams that run work as it is issued or record it while captured
// into a graph), emu_memory.cpp (host memory) and emu_cublas.cpp. Not a CUDA implementation: what this project's
// code uses.
#pragma once
#define RNN_CUDA_EMULATION 1

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

using std::isinf;
using std::isnan;
using std::max;
using std::min;

#define __launch_bounds__(...)

namespace emu {

struct Block {
  unsigned threads = 0;
  unsigned arrived = 0, generation = 0;  // __syncthreads
  bool anyFalse = false;                  // __syncthreads_and
  std::vector<unsigned> warpArrived, warpGeneration;
  std::vector<float> warpValues;  // [2][threads]: shuffles alternate halves
  std::vector<float4> dynamicShared;
  std::map<std::pair<const char*, int>, std::vector<double>> staticShared;  // by function and source line
};

struct Fiber {
  void* sp = nullptr;       // its saved stack pointer while switched out (x86-64)
  ucontext_t context;       // the same elsewhere
  char* stack = nullptr;    // kStackBytes of its OS thread's stack arena
  uint3 thread, block;      // the GPU thread it runs now
  dim3 grid, blockShape;    // of its launch
  Block* owner = nullptr;
  struct Group* group = nullptr;
};

// The fiber running on this OS thread (null outside kernels). Read for every threadIdx, hence initial-exec: one
// load, not a __tls_get_addr call (8 bytes of the static TLS that glibc keeps for dlopen'ed libraries), and
// constinit: no check for a thread-local initializer either.
extern constinit thread_local Fiber* tCurrent __attribute__((tls_model("initial-exec")));

// Where the current GPU thread is (kernels read threadIdx etc. through these macros).
inline uint3& currentThread() { return tCurrent->thread; }
inline uint3& currentBlock() { return tCurrent->block; }
inline Block& currentBlockState() { return *tCurrent->owner; }
void yield();  // to the next fiber of the launch (this one runs again on its next turn)

// Runs `blocks` (their indices) of a grid: each block's threads as fibers. A cooperative launch passes every block
// at once (they may wait for each other); an ordinary one, one block at a time.
void runGrid(dim3 grid, dim3 block, size_t dynamicSharedBytes, bool cooperative, const std::function<void()>& body);

// Records `e` as the calling thread's last CUDA error (cudaGetLastError) and returns it.
cudaError_t fail(cudaError_t e);

// Work on a stream: run now, or recorded while the stream is being captured into a graph.
void enqueue(cudaStream_t stream, std::function<void()> work);

// kernel<<<grid, block, shared, stream>>>(args...) as transform.py rewrites it: launcher(kernel, grid, block,
// shared, stream)(args...).
template <class K>
auto launcher(K kernel, dim3 grid, dim3 block, size_t shared = 0, cudaStream_t stream = nullptr) {
  return [=](auto... args) {
    enqueue(stream, [=] { runGrid(grid, block, shared, false, [=] { kernel(args...); }); });
  };
}

// Kernels launched through the C API (cudaLaunchCooperativeKernel takes a const void*): for each, how to turn a
// launch's argument array into a call that holds a copy of the arguments (a launch copies them). Registration
// and look-up are locked: launches come from the main thread and from libuv's.
using BindArgs = std::function<std::function<void()>(void**)>;
void registerBinder(const void* kernel, BindArgs bind);
template <class A>
void registerKernel(void (*kernel)(A)) {
  registerBinder(reinterpret_cast<const void*>(kernel), [kernel](void** args) {
    const A a = *static_cast<A*>(args[0]);
    return std::function<void()>([kernel, a] { kernel(a); });
  });
}

// A static __shared__ array of the current block, one per declaration (line) and function instantiation (the
// template arguments are part of __PRETTY_FUNCTION__): blockReduce<float> and blockReduce<double> have arrays of
// their own, as on a GPU.
template <class T>
T* staticShared(size_t count, int line, const char* function) {
  std::vector<double>& v = currentBlockState().staticShared[{function, line}];
  if (v.empty()) v.resize((count * sizeof(T) + sizeof(double) - 1) / sizeof(double) + 1);
  return reinterpret_cast<T*>(v.data());
}
template <class T>
T* dynamicSharedMemory() { return reinterpret_cast<T*>(currentBlockState().dynamicShared.data()); }

// What the emulated device reports (tests may change it before the first query of a device).
struct Device {
  int sms = 8;
  int sharedOptin = 232448;
  size_t memoryBytes = size_t(4) << 30;  // allocations past this fail as out of memory
};
Device& device();

// What the emulated host calls did (tests check, e.g., that every event created was destroyed).
struct Counters {
  std::atomic<long> eventsCreated = 0, eventsDestroyed = 0, gemms = 0;
};
Counters& counters();

}  // namespace emu

#define threadIdx (::emu::currentThread())
#define blockIdx (::emu::currentBlock())
#define blockDim (::emu::tCurrent->blockShape)
#define gridDim (::emu::tCurrent->grid)

// nvcc's C++ overloads of the runtime calls that take a kernel (a function, not a const void*).
template <class F>
cudaError_t cudaFuncSetAttribute(F* f, enum cudaFuncAttribute attr, int value) {
  return ::cudaFuncSetAttribute(reinterpret_cast<const void*>(f), attr, value);
}
template <class F>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* n, F* f, int threads, size_t shared) {
  return ::cudaOccupancyMaxActiveBlocksPerMultiprocessor(n, reinterpret_cast<const void*>(f), threads, shared);
}

// The C++ form of a cooperative launch (the kernel itself, as nvcc's template takes it): the emulated device
// learns how to call the kernel, then launches it through the C API.
template <class A>
cudaError_t cudaLaunchCooperativeKernel(void (*kernel)(A), dim3 grid, dim3 block, void** args, size_t shared, cudaStream_t stream) {
  ::emu::registerKernel(kernel);
  return ::cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel), grid, block, args, shared, stream);
}

void __syncthreads();
int __syncthreads_and(int predicate);
float __shfl_xor_sync(unsigned mask, float v, int laneMask);

template <class T>
inline T __ldg(const T* p) { return *p; }
template <class T>
inline T __ldcg(const T* p) { return *p; }
// Fibers of a launch share one OS thread and switch only at barriers: plain read-modify-writes are atomic here.
inline unsigned atomicExch(unsigned* p, unsigned v) {
  const unsigned old = *p;
  *p = v;
  return old;
}
inline float atomicAdd(float* p, float v) {
  const float old = *p;
  *p = old + v;
  return old;
}
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }

namespace rnn::cuda {

template <class T>
inline T* dynamicShared() { return ::emu::dynamicSharedMemory<T>(); }
inline void arriveRelease(unsigned* counter) { *counter += 1; }
inline unsigned loadAcquire(const unsigned* counter) {
  ::emu::yield();  // let the other blocks of the cooperative grid reach the barrier
  return *counter;
}
inline unsigned long long nanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace rnn::cuda
