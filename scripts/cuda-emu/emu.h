// Runs this project's persistent CUDA kernels on the CPU, where no GPU is (CI): every GPU thread of a launch is a
// std::thread, so blocks really run at once and can meet at a grid barrier; __syncthreads is a std::barrier per
// block, warp shuffles go through a per-warp exchange, and the CUDA runtime calls of the kernels' host code are
// answered by an emulated device (emu::device). Not a CUDA implementation: what these kernels use, for small
// shapes (a launch of a few blocks of 256 threads takes milliseconds). Include before the kernels' sources.
#pragma once
#define RNN_CUDA_EMULATION 1

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

using std::max;
using std::min;

#define __launch_bounds__(...)

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

namespace emu {

struct Warp {
  std::barrier<> sync{32};
  float values[32];
};

struct Block {
  explicit Block(unsigned threads, size_t sharedBytes)
      : sync(threads), shared(sharedBytes / sizeof(float4) + 1) {
    for (unsigned w = 0; w < threads / 32; ++w) warps.push_back(std::make_unique<Warp>());
  }
  std::barrier<> sync;
  std::atomic<bool> anyFalse{false};
  std::vector<std::unique_ptr<Warp>> warps;
  std::vector<float4> shared;
};

struct Self {
  Block* block = nullptr;
};
inline thread_local Self self;

// What the emulated device reports (tests set it before planning).
struct Device {
  int sms = 4;
  int sharedOptin = 48 * 1024;
};
inline Device device;

// Kernels by address: a launch through the C API (const void*) finds how to call its kernel here.
inline std::map<const void*, std::function<void(void**)>>& kernels() {
  static std::map<const void*, std::function<void(void**)>> table;
  return table;
}

template <class A>
void registerKernel(void (*kernel)(A)) {
  kernels()[reinterpret_cast<const void*>(kernel)] = [kernel](void** args) { kernel(*static_cast<A*>(args[0])); };
}

inline cudaError_t launch(const void* f, dim3 grid, dim3 block, void** args, size_t sharedBytes) {
  auto found = kernels().find(f);
  if (found == kernels().end()) throw std::runtime_error("emu: launch of an unregistered kernel");
  if (block.x % 32 != 0 || block.y != 1 || block.z != 1 || grid.y != 1 || grid.z != 1) return cudaErrorInvalidConfiguration;
  if (sharedBytes > size_t(device.sharedOptin) || grid.x > unsigned(device.sms)) return cudaErrorCooperativeLaunchTooLarge;
  gridDim = grid;
  blockDim = block;
  std::vector<std::unique_ptr<Block>> blocks;
  for (unsigned b = 0; b < grid.x; ++b) blocks.push_back(std::make_unique<Block>(block.x, sharedBytes));
  std::vector<std::thread> threads;
  const auto& run = found->second;
  for (unsigned b = 0; b < grid.x; ++b) {
    for (unsigned t = 0; t < block.x; ++t) {
      threads.emplace_back([&, b, t] {
        threadIdx = uint3{t, 0, 0};
        blockIdx = uint3{b, 0, 0};
        self.block = blocks[b].get();
        run(args);
      });
    }
  }
  for (std::thread& t : threads) t.join();
  return cudaSuccess;
}

// What the emulated host calls did (tests check, e.g., that every event created was destroyed).
struct Counters {
  long eventsCreated = 0, eventsDestroyed = 0, gemms = 0;
};
inline Counters& counters() {
  static Counters c;
  return c;
}

}  // namespace emu

inline void __syncthreads() { emu::self.block->sync.arrive_and_wait(); }

inline int __syncthreads_and(int predicate) {
  emu::Block& b = *emu::self.block;
  if (!predicate) b.anyFalse.store(true);
  b.sync.arrive_and_wait();
  const bool all = !b.anyFalse.load();
  b.sync.arrive_and_wait();  // everyone has read it
  if (threadIdx.x == 0) b.anyFalse.store(false);
  b.sync.arrive_and_wait();  // reset before any later use
  return all;
}

inline float __shfl_xor_sync(unsigned, float v, int laneMask) {
  emu::Warp& w = *emu::self.block->warps[threadIdx.x / 32];
  const unsigned lane = threadIdx.x % 32;
  w.values[lane] = v;
  w.sync.arrive_and_wait();
  const float other = w.values[lane ^ unsigned(laneMask)];
  w.sync.arrive_and_wait();
  return other;
}

template <class T>
inline T __ldg(const T* p) { return *p; }
template <class T>
inline T __ldcg(const T* p) { return *p; }
inline unsigned atomicExch(unsigned* p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }

namespace rnn::cuda {

template <class T>
inline T* dynamicShared() { return reinterpret_cast<T*>(emu::self.block->shared.data()); }
inline void arriveRelease(unsigned* counter) { __atomic_fetch_add(counter, 1u, __ATOMIC_RELEASE); }
inline unsigned loadAcquire(const unsigned* counter) {
  std::this_thread::yield();  // many more emulated blocks than cores: let the others reach the barrier
  return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
}
inline unsigned long long nanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace rnn::cuda

// The CUDA runtime and cuBLAS calls of the host code are defined in emu_runtime.cpp (synchronous: a stream runs
// its work when it is issued, which honours every event dependency the code sets up in issue order).
