#include "cuda_memory.h"

#include <cstdint>

#include "cuda_context.h"
#include "cuda_backward_kernels.h"
#include "cuda_half_kernels.h"
#include "cuda_kernels.h"

namespace rnn::cuda {

// Tensors come from the device's stream-ordered memory pool, which keeps freed memory for reuse
// (like PyTorch's caching allocator): a forward allocates its results, and cudaMalloc/cudaFree
// would each cost far more than a small forward's GPU work.
void* allocate(int device, size_t bytes) {
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
  void* data = nullptr;
  check(cudaMallocAsync(&data, bytes > 0 ? bytes : 4, ctx.stream), "cudaMallocAsync");
  synchronize(ctx);
  return data;
}

void release(int device, void* data) {
  if (!data) return;
  try {
    Context& ctx = context(device);
    cudaFreeAsync(data, ctx.stream);
  } catch (...) {
    // freeing at process exit, after the runtime is gone: nothing left to free
  }
  cudaGetLastError();
}

void upload(int device, void* dst, const void* src, size_t bytes) {
  Context& ctx = context(device);
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.stream), "cudaMemcpy to device");
  synchronize(ctx);
}

void download(int device, void* dst, const void* src, size_t bytes) {
  Context& ctx = context(device);
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream), "cudaMemcpy to host");
  synchronize(ctx);
}

void copyDevice(int dstDevice, void* dst, int srcDevice, const void* src, size_t bytes) {
  Context& ctx = context(dstDevice);
  if (dstDevice == srcDevice) {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx.stream), "cudaMemcpy");
  } else {
    // the source may still be being written by kernels queued (unwaited) on its own device's stream
    synchronize(context(srcDevice));
    check(cudaSetDevice(dstDevice), "cudaSetDevice");
    check(cudaMemcpyPeerAsync(dst, dstDevice, src, srcDevice, bytes, ctx.stream), "cudaMemcpyPeer");
  }
  synchronize(ctx);
}

void fill(int device, void* dst, ElemType type, size_t n, float value) {
  Context& ctx = context(device);
  if (type == ElemType::F32) launchFill(static_cast<float*>(dst), int64_t(n), value, ctx.stream);
  else launchFillHalf(dst, type, int64_t(n), value, ctx.stream);
  check(cudaGetLastError(), "fill kernel launch");
  synchronize(ctx);
}

void convert(int device, void* dst, ElemType dstType, const void* src, ElemType srcType, size_t n) {
  Context& ctx = context(device);
  launchConvert(dst, dstType, src, srcType, int64_t(n), ctx.stream);
  check(cudaGetLastError(), "convert kernel launch");
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
