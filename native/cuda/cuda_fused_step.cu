// The fused small-batch step kernel (see cuda_fused_step.h). Block k owns units [k*U, k*U + U): its
// warps compute the G*U rows of W_hh times every active row's h_{t-1} (staged in shared memory), each
// lane striding over P with 16-byte loads and the warp reducing by shuffles; then its threads apply
// the cell update (cuda_cell_step.cuh) to those units.
#include "cuda_fused_step.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "cuda_cell_step.cuh"
#include "cuda_switches.h"

namespace rnn::cuda {

namespace {

constexpr int kThreads = 256;
constexpr size_t kMaxShared = 160 * 1024;  // within every targeted GPU's opt-in limit (sm_80: 163 KB)
constexpr double kMaxMacs = double(1 << 25);

template <int BC>
__global__ void __launch_bounds__(kThreads) fusedStepKernel(StepParams p, const float* __restrict__ w, int U) {
  extern __shared__ float4 sharedRaw[];
  float* hs = reinterpret_cast<float*>(sharedRaw);  // [B, P]: h_{t-1}
  const int H = p.hidden, P = p.outSize, B = p.batch, G = gateCount(p.kind), active = p.active;
  float* acc = hs + size_t(B) * P;                  // [G*U, B]: this block's W_hh h
  const int u0 = blockIdx.x * U;
  const int units = min(U, H - u0);
  const bool vec = (P % 4 == 0) && ((reinterpret_cast<uintptr_t>(w) & 15) == 0) &&
                   ((reinterpret_cast<uintptr_t>(p.hCur) & 15) == 0);
  if (vec) {
    const float4* src = reinterpret_cast<const float4*>(p.hCur);
    float4* dst = reinterpret_cast<float4*>(hs);
    for (int i = threadIdx.x; i < active * P / 4; i += blockDim.x) dst[i] = src[i];
  } else {
    for (int i = threadIdx.x; i < active * P; i += blockDim.x) hs[i] = p.hCur[i];
  }
  __syncthreads();

  const int rows = G * units, chunks = (active + BC - 1) / BC;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int item = warp; item < rows * chunks; item += warps) {
    const int r = item / chunks, b0 = (item % chunks) * BC;
    const int g = r / units, u = r % units;
    const float* wr = w + (int64_t(g) * H + u0 + u) * P;
    float sum[BC];
#pragma unroll
    for (int i = 0; i < BC; ++i) sum[i] = 0.f;
    if (vec) {
      // four 16-byte loads of the row in flight per lane before any use: W_hh comes from L2, and a chain of
      // dependent loads would leave the step waiting on L2 latency rather than bandwidth
      const float4* w4 = reinterpret_cast<const float4*>(wr);
      const int P4 = P / 4;
      int k = lane;
      for (; k + 96 < P4; k += 128) {
        const float4 a0 = __ldg(w4 + k), a1 = __ldg(w4 + k + 32), a2 = __ldg(w4 + k + 64), a3 = __ldg(w4 + k + 96);
#pragma unroll
        for (int i = 0; i < BC; ++i) {
          if (b0 + i < active) {
            const float4* hb = reinterpret_cast<const float4*>(hs + size_t(b0 + i) * P);
            const float4 h0 = hb[k], h1 = hb[k + 32], h2 = hb[k + 64], h3 = hb[k + 96];
            sum[i] += a0.x * h0.x + a0.y * h0.y + a0.z * h0.z + a0.w * h0.w;
            sum[i] += a1.x * h1.x + a1.y * h1.y + a1.z * h1.z + a1.w * h1.w;
            sum[i] += a2.x * h2.x + a2.y * h2.y + a2.z * h2.z + a2.w * h2.w;
            sum[i] += a3.x * h3.x + a3.y * h3.y + a3.z * h3.z + a3.w * h3.w;
          }
        }
      }
      for (; k < P4; k += 32) {
        const float4 a = __ldg(w4 + k);
#pragma unroll
        for (int i = 0; i < BC; ++i) {
          if (b0 + i < active) {
            const float4 h = reinterpret_cast<const float4*>(hs + size_t(b0 + i) * P)[k];
            sum[i] += a.x * h.x + a.y * h.y + a.z * h.z + a.w * h.w;
          }
        }
      }
    } else {
      for (int k = lane; k < P; k += 32) {
        const float a = __ldg(wr + k);
#pragma unroll
        for (int i = 0; i < BC; ++i) {
          if (b0 + i < active) sum[i] += a * hs[size_t(b0 + i) * P + k];
        }
      }
    }
#pragma unroll
    for (int i = 0; i < BC; ++i) {
      float v = sum[i];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (lane == 0 && b0 + i < active) acc[size_t(r) * B + b0 + i] = v;
    }
  }
  __syncthreads();

  for (int idx = threadIdx.x; idx < units * B; idx += blockDim.x) {
    const int u = idx % units, b = idx / units;
    stepUnit(p, b, u0 + u, [&](int gate) { return acc[size_t(gate * units + u) * B + b]; });
  }
}

bool fusedEnabled() {
  static const bool enabled = switchedOn("NODE_RNN_CUDA_FUSED");
  return enabled;
}

}  // namespace

bool latencyBoundStep(CellKind kind, int batch, int hidden, int outSize) {
  return batch >= 1 && batch <= 64 && double(batch) * gateCount(kind) * hidden * outSize <= kMaxMacs;
}

FusedStepPlan planFusedStep(CellKind kind, int batch, int hidden, int outSize, bool projected) {
  FusedStepPlan plan;
  const int G = gateCount(kind);
  // Every block stages all B rows of h_{t-1}: beyond 16 rows that copy (B*P floats per block, per step)
  // costs more than the launch it saves (measured on an H100: LSTM/GRU/RNN B=64 H=256 ran 1.2-8x slower
  // fused than with cuBLAS), so larger batches keep the cuBLAS GEMM.
  if (!fusedEnabled() || projected || batch > 16 || !latencyBoundStep(kind, batch, hidden, outSize)) return plan;
  // about 256 blocks (two or more per SM on 100+ SMs) of at least one unit each
  plan.unitsPerBlock = hidden <= 256 ? 1 : (hidden + 255) / 256;
  plan.batchChunk = batch >= 8 ? 8 : batch >= 4 ? 4 : batch >= 2 ? 2 : 1;
  plan.sharedBytes = (size_t(batch) * outSize + size_t(G) * plan.unitsPerBlock * batch) * sizeof(float);
  plan.use = plan.sharedBytes <= kMaxShared;
  return plan;
}

cudaError_t prepareFusedStep(int device) {
  static std::mutex mutex;
  static std::atomic<bool> done[64] = {};
  if (device < 0 || device >= 64) return cudaSuccess;
  if (done[device].load(std::memory_order_acquire)) return cudaSuccess;  // every forward but the first: no lock
  std::lock_guard<std::mutex> lock(mutex);
  if (done[device].load(std::memory_order_relaxed)) return cudaSuccess;
  const int bytes = int(kMaxShared);
  cudaError_t status = cudaFuncSetAttribute(fusedStepKernel<1>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (status == cudaSuccess) status = cudaFuncSetAttribute(fusedStepKernel<2>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (status == cudaSuccess) status = cudaFuncSetAttribute(fusedStepKernel<4>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (status == cudaSuccess) status = cudaFuncSetAttribute(fusedStepKernel<8>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  done[device].store(status == cudaSuccess, std::memory_order_release);
  return status;
}

void launchFusedStep(const StepParams& p, const float* wHh, const FusedStepPlan& plan, cudaStream_t stream) {
  const int U = plan.unitsPerBlock;
  const unsigned blocks = unsigned((p.hidden + U - 1) / U);
  switch (plan.batchChunk) {
    case 1: fusedStepKernel<1><<<blocks, kThreads, plan.sharedBytes, stream>>>(p, wHh, U); break;
    case 2: fusedStepKernel<2><<<blocks, kThreads, plan.sharedBytes, stream>>>(p, wHh, U); break;
    case 4: fusedStepKernel<4><<<blocks, kThreads, plan.sharedBytes, stream>>>(p, wHh, U); break;
    default: fusedStepKernel<8><<<blocks, kThreads, plan.sharedBytes, stream>>>(p, wHh, U); break;
  }
}

}  // namespace rnn::cuda
