// Per device and per thread: one CUDA stream and one cuBLAS handle, created on first use. Every
// public operation synchronises its stream before returning, so callers on different threads (the
// main thread uploading, a libuv thread running a forward) never race on memory.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <vector>

#include "cuda_switches.h"

namespace rnn::cuda {

// A further stream of a context with a cuBLAS handle of its own (a handle's workspace must not be shared by
// kernels running concurrently on two streams).
struct Lane {
  cudaStream_t stream;
  cublasHandle_t blas;
};

struct Context {
  int device;
  cudaStream_t stream;
  cublasHandle_t blas;
  cudaEvent_t done;  // blocking-sync event: waiting on it sleeps instead of spinning
  std::vector<Lane> lanes;  // created on first use (lane()), for work that overlaps on several streams
};

// Throws std::runtime_error with the CUDA/cuBLAS error text.
void check(cudaError_t status, const char* what);
void check(cublasStatus_t status, const char* what);

Context& context(int device);
// Lane i of the context (0-based; at most kMaxLanes), created with its stream and cuBLAS handle on first use.
constexpr int kMaxLanes = 8;
Lane& lane(Context& ctx, int i);
// Waits for the context's stream without spinning a CPU core.
void synchronize(Context& ctx);

int deviceCount();
std::string deviceName(int device);
std::string driverError();  // empty when the driver is usable

// Matmul precision like torch.set_float32_matmul_precision: false = 'highest' (true fp32), true = 'high' (TF32).
void setAllowTf32(bool allow);
bool allowTf32();

}  // namespace rnn::cuda
