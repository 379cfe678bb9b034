// What the persistent kernels need beyond ordinary CUDA C++: the block's dynamic shared memory and the pieces of
// a grid barrier (an arrival with release semantics, an acquire load to poll with, a clock for the watchdog).
// Kept apart so that scripts/cuda-emu (which runs these kernels on the CPU in CI) can supply its own versions:
// it defines RNN_CUDA_EMULATION and these functions before including the kernels.
#pragma once
#include <cstdint>

#ifndef RNN_CUDA_EMULATION
namespace rnn::cuda {

template <class T>
__device__ __forceinline__ T* dynamicShared() {
  extern __shared__ float4 sharedRaw[];
  return reinterpret_cast<T*>(sharedRaw);
}

__device__ __forceinline__ void arriveRelease(unsigned* counter) {
  asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(counter) : "memory");
}

__device__ __forceinline__ unsigned loadAcquire(const unsigned* counter) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(counter) : "memory");
  return v;
}

__device__ __forceinline__ unsigned long long nanoseconds() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

}  // namespace rnn::cuda
#endif
