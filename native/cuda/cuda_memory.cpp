#include "cuda_memory.h"

#include "cuda_context.h"
#include "cuda_kernels.h"

namespace rnn::cuda {

float* allocate(int device, size_t floats) {
  Context& ctx = context(device);
  float* data = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&data), (floats > 0 ? floats : 1) * sizeof(float)), "cudaMalloc");
  (void)ctx;
  return data;
}

void release(int device, float* data) {
  if (!data) return;
  if (cudaSetDevice(device) == cudaSuccess) cudaFree(data);
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

void synchronizeDevice(int device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

}  // namespace rnn::cuda
