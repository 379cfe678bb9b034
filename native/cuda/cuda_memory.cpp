#include "cuda_memory.h"

#include <cstdint>

#include "cuda_context.h"
#include "cuda_backward_kernels.h"
#include "cuda_kernels.h"

namespace rnn::cuda {

// Tensors come from the device's stream-ordered memory pool, which keeps freed memory for reuse
// (like PyTorch's caching allocator): a forward allocates its results, and cudaMalloc/cudaFree
// would each cost far more than a small forward's GPU work.
float* allocate(int device, size_t floats) {
  Context& ctx = context(device);
  static bool poolConfigured[64] = {};
  if (device < 64 && !poolConfigured[device]) {
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
      uint64_t keepAll = UINT64_MAX;
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keepAll);
    }
    cudaGetLastError();
    poolConfigured[device] = true;
  }
  float* data = nullptr;
  check(cudaMallocAsync(reinterpret_cast<void**>(&data), (floats > 0 ? floats : 1) * sizeof(float), ctx.stream), "cudaMallocAsync");
  synchronize(ctx);
  return data;
}

void release(int device, float* data) {
  if (!data) return;
  try {
    Context& ctx = context(device);
    cudaFreeAsync(data, ctx.stream);
  } catch (...) {
    // freeing at process exit, after the runtime is gone: nothing left to free
  }
  cudaGetLastError();
}

void upload(int device, float* dst, const float* src, size_t floats) {
  Context& ctx = context(device);
  check(cudaMemcpyAsync(dst, src, floats * sizeof(float), cudaMemcpyHostToDevice, ctx.stream), "cudaMemcpy to device");
  synchronize(ctx);
}

void download(int device, float* dst, const float* src, size_t floats) {
  Context& ctx = context(device);
  check(cudaMemcpyAsync(dst, src, floats * sizeof(float), cudaMemcpyDeviceToHost, ctx.stream), "cudaMemcpy to host");
  synchronize(ctx);
}

void copyDevice(int dstDevice, float* dst, int srcDevice, const float* src, size_t floats) {
  Context& ctx = context(dstDevice);
  if (dstDevice == srcDevice) {
    check(cudaMemcpyAsync(dst, src, floats * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream), "cudaMemcpy");
  } else {
    check(cudaMemcpyPeerAsync(dst, dstDevice, src, srcDevice, floats * sizeof(float), ctx.stream), "cudaMemcpyPeer");
  }
  synchronize(ctx);
}

void fill(int device, float* dst, size_t floats, float value) {
  Context& ctx = context(device);
  launchFill(dst, int64_t(floats), value, ctx.stream);
  check(cudaGetLastError(), "fill kernel launch");
  synchronize(ctx);
}

void add(int device, float* dst, const float* src, size_t floats) {
  Context& ctx = context(device);
  launchAdd(dst, src, int64_t(floats), ctx.stream);
  check(cudaGetLastError(), "add kernel launch");
  synchronize(ctx);
}

void synchronizeDevice(int device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

}  // namespace rnn::cuda
