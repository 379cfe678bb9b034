#include "cuda_context.h"

#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>

namespace rnn::cuda {

namespace {

std::atomic<bool> gAllowTf32{false};
constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;
constexpr size_t kLaneWorkspaceBytes = size_t(8) << 20;

// Contexts live as long as their thread (libuv pool threads live as long as the process). They are
// deliberately never destroyed: at process exit the CUDA runtime may already be unloaded.
struct ThreadContexts {
  std::map<int, Context> byDevice;
};

}  // namespace

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so later calls can succeed
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
  }
}

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(what) + ": cuBLAS error " + cublasGetStatusString(status));
  }
}

Context& context(int device) {
  thread_local ThreadContexts& contexts = *new ThreadContexts();
  check(cudaSetDevice(device), "cudaSetDevice");
  auto found = contexts.byDevice.find(device);
  if (found != contexts.byDevice.end()) return found->second;
  Context ctx{device, nullptr, nullptr, nullptr, {}};
  check(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cudaEventCreateWithFlags(&ctx.done, cudaEventBlockingSync | cudaEventDisableTiming), "cudaEventCreate");
  check(cublasCreate(&ctx.blas), "cublasCreate");
  check(cublasSetStream(ctx.blas, ctx.stream), "cublasSetStream");
  // A workspace of our own, so cuBLAS never allocates while a CUDA graph is being captured.
  void* workspace = nullptr;
  check(cudaMalloc(&workspace, kCublasWorkspaceBytes), "cudaMalloc (cuBLAS workspace)");
  check(cublasSetWorkspace(ctx.blas, workspace, kCublasWorkspaceBytes), "cublasSetWorkspace");
  return contexts.byDevice.emplace(device, ctx).first->second;
}

Lane& lane(Context& ctx, int i) {
  if (i < 0 || i >= kMaxLanes) throw std::runtime_error("CUDA lane index out of range");
  // reserve once so references handed out stay valid while more lanes are created
  if (ctx.lanes.capacity() < size_t(kMaxLanes)) ctx.lanes.reserve(kMaxLanes);
  check(cudaSetDevice(ctx.device), "cudaSetDevice");
  while (int(ctx.lanes.size()) <= i) {
    Lane l{nullptr, nullptr};
    check(cudaStreamCreateWithFlags(&l.stream, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cublasCreate(&l.blas), "cublasCreate");
    check(cublasSetStream(l.blas, l.stream), "cublasSetStream");
    void* workspace = nullptr;
    check(cudaMalloc(&workspace, kLaneWorkspaceBytes), "cudaMalloc (cuBLAS workspace)");
    check(cublasSetWorkspace(l.blas, workspace, kLaneWorkspaceBytes), "cublasSetWorkspace");
    ctx.lanes.push_back(l);
  }
  return ctx.lanes[size_t(i)];
}

void synchronize(Context& ctx) {
  check(cudaEventRecord(ctx.done, ctx.stream), "cudaEventRecord");
  check(cudaEventSynchronize(ctx.done), "cudaEventSynchronize");
}

int deviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

std::string deviceName(int device) {
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  return prop.name;
}

std::string driverError() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return cudaGetErrorString(status);
  }
  return count == 0 ? "no CUDA device found" : "";
}

void setAllowTf32(bool allow) { gAllowTf32 = allow; }
bool allowTf32() { return gAllowTf32.load(); }

}  // namespace rnn::cuda
