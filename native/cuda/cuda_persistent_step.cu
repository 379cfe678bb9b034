// The persistent time-loop kernel (see cuda_persistent_step.h). Block (unit group, row group) owns units
// [u0, u0 + U) of rows [b0, b0 + R). Per step it stages its rows of h_{t-1} from L2 into shared memory,
// multiplies them by its resident W_hh rows (warps take 4 weight rows x 8 state rows at a time, lanes striding
// over P), applies the cell update (cuda_cell_step.cuh) to its units, and meets the other blocks at a grid
// barrier before the next step reads the new h.
#include "cuda_persistent_step.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "cuda_cell_backward.cuh"
#include "cuda_cell_step.cuh"
#include "cuda_switches.h"
#include "cuda_grid_sync.cuh"

namespace rnn::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kItemRows = 4;   // weight rows a warp multiplies at once
constexpr int kItemBatch = 8;  // state rows a warp multiplies at once (kItemRows * kItemBatch == 32 lanes)
constexpr int kMaxRowsPerBlock = 32;
// A barrier that waits this long means something is broken (a healthy step takes microseconds); the kernel
// then stops and the call reports an error instead of hanging the process.
constexpr unsigned long long kBarrierTimeoutNs = 2000000000ull;

struct PersistentArgs {
  StepParams p;
  const float* w;
  const PersistentStep* steps;
  int stepCount;
  int U, R, unitGroups;
  float* hA;
  float* hB;
  unsigned* counter;
  unsigned* abort;
  int* hostAbort;  // mapped host memory: tells the host after the fact
};

// A grid barrier: release-add on arrival, acquire polling (the pattern of cooperative groups' grid sync),
// plus a timeout. False when the barrier was abandoned (this block or another timed out).
__device__ bool gridBarrier(unsigned* counter, unsigned* abortFlag, int* hostAbort, unsigned target) {
  __syncthreads();
  int ok = 1;
  if (threadIdx.x == 0) {
    arriveRelease(counter);
    const unsigned long long start = nanoseconds();
    for (unsigned spin = 1; loadAcquire(counter) < target; ++spin) {
      if ((spin & 63) == 0) {
        if (*reinterpret_cast<volatile unsigned*>(abortFlag)) {
          ok = 0;
          break;
        }
        if (nanoseconds() - start > kBarrierTimeoutNs) {
          atomicExch(abortFlag, 1u);
          *reinterpret_cast<volatile int*>(hostAbort) = 1;
          ok = 0;
          break;
        }
      }
    }
  }
  return __syncthreads_and(ok) != 0;
}

__device__ __forceinline__ float dot(float4 a, float4 b) { return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w; }
__device__ __forceinline__ float dot(float a, float b) { return a * b; }

// One stage of the transposing butterfly: lanes whose bit HALF is set keep the upper half of v[0, 2*HALF),
// the others the lower half, each adding its partner's copy of the half it keeps.
template <int HALF>
__device__ __forceinline__ void butterflyStage(float* v, int lane) {
  const bool upper = (lane & HALF) != 0;
#pragma unroll
  for (int i = 0; i < HALF; ++i) {
    const float send = upper ? v[i] : v[i + HALF];
    const float keep = upper ? v[i + HALF] : v[i];
    v[i] = keep + __shfl_xor_sync(0xffffffffu, send, HALF);
  }
}

// acc[r0 + i][c0 + j] = sum_k ws[r0 + i][k] * hs[c0 + j][k] for i < rows (<= 4), j < cols (<= 8); V is float4
// when P % 4 == 0 (16-byte shared loads), else float. Each lane holds 32 partial sums; a transposing butterfly
// (31 shuffles instead of 32 x 5) leaves the total of sum (i, j) in lane i * 8 + j, which stores it.
template <class V>
__device__ __forceinline__ void multiplyItem(const float* ws, const float* hs, float* acc, int P, int R, int r0, int rows, int c0,
                                             int cols, int lane) {
  constexpr int W = sizeof(V) / sizeof(float);
  const int n = P / W;
  const V* wv = reinterpret_cast<const V*>(ws) + int64_t(r0) * n;
  const V* hv = reinterpret_cast<const V*>(hs) + int64_t(c0) * n;
  float v[kItemRows * kItemBatch];
#pragma unroll
  for (int i = 0; i < kItemRows * kItemBatch; ++i) v[i] = 0.f;
  for (int k = lane; k < n; k += 32) {
    V w[kItemRows];
#pragma unroll
    for (int i = 0; i < kItemRows; ++i) {
      if (i < rows) w[i] = wv[int64_t(i) * n + k];
    }
#pragma unroll
    for (int j = 0; j < kItemBatch; ++j) {
      if (j < cols) {
        const V h = hv[int64_t(j) * n + k];
#pragma unroll
        for (int i = 0; i < kItemRows; ++i) {
          if (i < rows) v[i * kItemBatch + j] += dot(w[i], h);
        }
      }
    }
  }
  butterflyStage<16>(v, lane);
  butterflyStage<8>(v, lane);
  butterflyStage<4>(v, lane);
  butterflyStage<2>(v, lane);
  butterflyStage<1>(v, lane);
  const int i = lane / kItemBatch, j = lane % kItemBatch;
  if (i < rows && j < cols) acc[int64_t(r0 + i) * R + c0 + j] = v[0];
}

// The block's W_hh rows into shared memory: row u*G + g is W_hh row g*H + u0 + u.
__device__ __forceinline__ void loadWeightSlice(float* ws, const float* w, int G, int H, int P, int u0, int units) {
  for (int64_t i = threadIdx.x; i < int64_t(G) * units * P; i += blockDim.x) {
    const int r = int(i / P), k = int(i % P);
    ws[i] = __ldg(w + (int64_t(r % G) * H + u0 + r / G) * P + k);
  }
}

template <bool VEC>
__global__ void __launch_bounds__(kThreads, 1) persistentStepKernel(PersistentArgs a) {
  const int H = a.p.hidden, P = a.p.outSize, B = a.p.batch, G = gateCount(a.p.kind);
  const int unitGroup = int(blockIdx.x) % a.unitGroups, rowGroup = int(blockIdx.x) / a.unitGroups;
  const int u0 = unitGroup * a.U, units = min(a.U, H - u0);
  const int b0 = rowGroup * a.R, rows = min(a.R, B - b0);
  const int wRows = G * units;
  float* ws = dynamicShared<float>();  // [G*U, P]: row u*G + g is W_hh row g*H + u0 + u
  float* hs = ws + int64_t(G) * a.U * P;            // [R, P]: h_{t-1} of rows b0...
  float* acc = hs + int64_t(a.R) * P;               // [G*U, R]: W_hh h, row u*G + g

  loadWeightSlice(ws, a.w, G, H, P, u0, units);

  const int warp = int(threadIdx.x) >> 5, lane = int(threadIdx.x) & 31;
  const unsigned grid = gridDim.x;
  StepParams p = a.p;
  for (int s = 0; s < a.stepCount; ++s) {
    const PersistentStep step = a.steps[s];
    float* hCur = (s & 1) ? a.hB : a.hA;
    float* hNext = (s & 1) ? a.hA : a.hB;
    const int live = max(0, min(rows, step.active - b0));  // this block's rows with work at this step
    // h_{t-1} was written by other blocks in the previous step: read through L2 (.cg), never a stale L1 line
    if (VEC) {
      const float4* src = reinterpret_cast<const float4*>(hCur + int64_t(b0) * P);
      float4* dst = reinterpret_cast<float4*>(hs);
      for (int i = threadIdx.x; i < live * P / 4; i += blockDim.x) dst[i] = __ldcg(src + i);
    } else {
      const float* src = hCur + int64_t(b0) * P;
      for (int i = threadIdx.x; i < live * P; i += blockDim.x) hs[i] = __ldcg(src + i);
    }
    __syncthreads();  // also orders the first step after the W_hh slice is loaded

    const int rowItems = (wRows + kItemRows - 1) / kItemRows, chunks = (live + kItemBatch - 1) / kItemBatch;
    for (int item = warp; item < rowItems * chunks; item += kWarps) {
      const int r0 = (item / chunks) * kItemRows, c0 = (item % chunks) * kItemBatch;
      const int nr = min(kItemRows, wRows - r0), nc = min(kItemBatch, live - c0);
      if (VEC) multiplyItem<float4>(ws, hs, acc, P, a.R, r0, nr, c0, nc, lane);
      else multiplyItem<float>(ws, hs, acc, P, a.R, r0, nr, c0, nc, lane);
    }
    __syncthreads();

    p.active = step.active;
    p.rowBase = step.rowBase;
    p.hCur = hCur;
    p.hNext = hNext;
    for (int idx = threadIdx.x; idx < units * rows; idx += blockDim.x) {
      const int u = idx % units, r = idx / units;
      stepUnit(p, b0 + r, u0 + u, [&](int g) { return acc[int64_t(u * G + g) * a.R + r]; });
    }
    if (s + 1 < a.stepCount && !gridBarrier(a.counter, a.abort, a.hostAbort, unsigned(s + 1) * grid)) return;
  }
}

struct PersistentGradArgs {
  StepGradParams p;  // gradH = dh and gradC = dc (this call's state); active and rowBase set per step
  const float* w;
  const PersistentStep* steps;  // in the reverse loop's order
  int stepCount;
  int batch;  // B
  int U, R, unitGroups;
  float* dh;        // [B, P]: dL/dh_T in, dL/dh_0 out
  float* partials;  // [2][unitGroups][B][P]: each unit group's share of dL/dh_{t-1}, two steps in turn
  unsigned* counter;
  unsigned* abort;
  int* hostAbort;
};

// dh[b][j] for the block's rows active at the step whose partial products sit in `buffer`: the sum of every
// unit group's share (GRU: added to the dh * z its cell backward left there, the path that skips W_hh).
__device__ __forceinline__ void reduceShares(const PersistentGradArgs& a, int buffer, int active, int b0, int rows, int u0,
                                             int units, bool accumulate) {
  const int B = a.batch, P = a.p.hidden;
  const float* base = a.partials + int64_t(buffer) * a.unitGroups * B * P;
  for (int idx = threadIdx.x; idx < units * rows; idx += blockDim.x) {
    const int u = idx % units, b = b0 + idx / units;
    if (b >= active) continue;
    float sum = 0.f;
    for (int g = 0; g < a.unitGroups; ++g) sum += __ldcg(base + (int64_t(g) * B + b) * P + u0 + u);
    float* d = a.dh + int64_t(b) * P + u0 + u;
    *d = accumulate ? *d + sum : sum;
  }
}

// The reverse loop as one kernel. Per step each block runs the cell backward for its (rows, units), multiplies
// its rows' gate gradients by its resident W_hh rows into its share of dL/dh_{t-1} for every unit ([R, P],
// written to `partials`), and after the grid barrier sums the shares of its own units. Shares alternate between
// two buffers, so one barrier per step suffices: a block writes a buffer again only after every block has
// passed the barrier that follows its reading of it.
__global__ void __launch_bounds__(kThreads, 1) persistentBackwardKernel(PersistentGradArgs a) {
  const int H = a.p.hidden, P = H, G = gateCount(a.p.kind), B = a.batch;
  const int unitGroup = int(blockIdx.x) % a.unitGroups, rowGroup = int(blockIdx.x) / a.unitGroups;
  const int u0 = unitGroup * a.U, units = min(a.U, H - u0);
  const int b0 = rowGroup * a.R, rows = min(a.R, B - b0);
  const int wRows = G * units, R8 = (a.R + 7) & ~7;
  const bool gru = a.p.kind == CellKind::Gru;
  float* ws = dynamicShared<float>();  // [G*U, P] as in the forward
  float* gs = ws + int64_t(G) * a.U * P;            // [G*U, R8]: this step's recurrent gate gradients of the block's rows
  loadWeightSlice(ws, a.w, G, H, P, u0, units);
  __syncthreads();

  const unsigned grid = gridDim.x;
  StepGradParams p = a.p;
  int previous = 0;
  for (int s = 0; s < a.stepCount; ++s) {
    const PersistentStep step = a.steps[s];
    if (s > 0) {
      reduceShares(a, (s - 1) & 1, previous, b0, rows, u0, units, gru);
      __syncthreads();
    }
    const int live = max(0, min(rows, step.active - b0));
    p.active = step.active;
    p.rowBase = step.rowBase;
    for (int idx = threadIdx.x; idx < units * live; idx += blockDim.x) cellBackwardUnit(p, b0 + idx / units, u0 + idx % units);
    __syncthreads();  // the gate gradients in global memory are visible to the whole block
    const int GH = G * H;
    for (int idx = threadIdx.x; idx < wRows * live; idx += blockDim.x) {
      const int r = idx / live, b = idx % live;
      const int u = r / G, g = r % G;
      gs[r * R8 + b] = p.gradGatesH[(step.rowBase + int64_t(b0 + b) * p.strideB) * GH + int64_t(g) * H + u0 + u];
    }
    __syncthreads();
    float* share = a.partials + (int64_t(s & 1) * a.unitGroups + unitGroup) * B * P;
    for (int c0 = 0; c0 < live; c0 += 8) {
      const int n = min(8, live - c0);
      for (int k = threadIdx.x; k < P; k += blockDim.x) {
        float acc[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[i] = 0.f;
        for (int r = 0; r < wRows; ++r) {
          const float w = ws[int64_t(r) * P + k];
          const float* gr = gs + r * R8 + c0;
#pragma unroll
          for (int i = 0; i < 8; ++i) acc[i] += w * gr[i];  // gr[i] past `live` is stale (rows padded to R8) but never stored
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          if (i < n) share[int64_t(b0 + c0 + i) * P + k] = acc[i];
        }
      }
    }
    previous = step.active;
    if (!gridBarrier(a.counter, a.abort, a.hostAbort, unsigned(s + 1) * grid)) return;
  }
  reduceShares(a, (a.stepCount - 1) & 1, previous, b0, rows, u0, units, gru);
}

bool persistentEnabled() {
  static const bool enabled = switchedOn("NODE_RNN_CUDA_PERSISTENT");
  return enabled;
}

// What a device offers the persistent kernel, queried once per device.
struct DeviceState {
  bool ready = false;
  bool usable = false;
  int sms = 0;
  size_t sharedLimit = 0;  // dynamic shared memory a block may opt into
  int* hostAbort = nullptr;
};

std::mutex gMutex;
DeviceState gDevices[64];
// Set once a persistent kernel on the device timed out: the process then keeps to the step loops there.
std::atomic<bool> gGaveUp[64] = {};

DeviceState& deviceState(int device) {
  static DeviceState none;
  if (device < 0 || device >= 64) return none;
  std::lock_guard<std::mutex> lock(gMutex);
  DeviceState& d = gDevices[device];
  if (d.ready) return d;
  d.ready = true;
  int coop = 0, sms = 0, optin = 0;
  if (cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
    cudaGetLastError();
    return d;
  }
  // the barrier's flag in static shared memory and some slack stay outside the dynamic part
  const int dynamic = optin - 1024;
  if (!coop || sms <= 0 || dynamic <= 0 ||
      cudaFuncSetAttribute(reinterpret_cast<const void*>(persistentStepKernel<true>), cudaFuncAttributeMaxDynamicSharedMemorySize, dynamic) != cudaSuccess ||
      cudaFuncSetAttribute(reinterpret_cast<const void*>(persistentStepKernel<false>), cudaFuncAttributeMaxDynamicSharedMemorySize, dynamic) != cudaSuccess ||
      cudaFuncSetAttribute(reinterpret_cast<const void*>(persistentBackwardKernel), cudaFuncAttributeMaxDynamicSharedMemorySize, dynamic) != cudaSuccess ||
      cudaHostAlloc(reinterpret_cast<void**>(&d.hostAbort), sizeof(int), cudaHostAllocMapped | cudaHostAllocPortable) != cudaSuccess) {
    cudaGetLastError();
    d.hostAbort = nullptr;
    return d;
  }
  *reinterpret_cast<volatile int*>(d.hostAbort) = 0;
  d.sms = sms;
  d.sharedLimit = size_t(dynamic);
  d.usable = true;
  return d;
}

size_t sharedBytesFor(int G, int U, int R, int P) {
  return (size_t(G) * U * P + size_t(R) * P + size_t(G) * U * R) * sizeof(float);
}

// Rough cycles of one step on one SM: staging R rows of h from L2 (~32 B/clk), then the warps' passes over
// shared memory (each item reads 4 weight rows and 8 state rows; a warp gets ~1/8 of 128 B/clk).
double stepCycles(int G, int U, int R, int P) {
  const double items = double((G * U + kItemRows - 1) / kItemRows) * ((R + kItemBatch - 1) / kItemBatch);
  const double perWarp = std::ceil(items / kWarps);
  return double(R) * P * sizeof(float) / 32.0 + perWarp * (kItemRows + kItemBatch) * P * sizeof(float) / 16.0;
}

}  // namespace

PersistentPlan planPersistentStep(int device, CellKind kind, int batch, int hidden, int outSize, bool projected) {
  PersistentPlan best;
  if (!persistentEnabled() || projected || batch < 1 || hidden < 1 || outSize != hidden) return best;
  if (device >= 0 && device < 64 && gGaveUp[device].load()) return best;
  const DeviceState& d = deviceState(device);
  if (!d.usable) return best;
  using Key = std::tuple<int, int, int, int, int>;
  thread_local std::map<Key, PersistentPlan> cache;
  const Key key{device, int(kind), batch, hidden, outSize};
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;

  const int G = gateCount(kind), P = outSize;
  double bestCycles = 0;
  int lastR = 0;
  for (int rowGroups = 1; rowGroups <= std::min(batch, d.sms); ++rowGroups) {
    const int R = (batch + rowGroups - 1) / rowGroups;
    if (R == lastR || R > kMaxRowsPerBlock) continue;
    lastR = R;
    const int groups = (batch + R - 1) / R;
    const int maxUnitGroups = d.sms / groups;
    if (maxUnitGroups < 1) break;
    const int U = (hidden + maxUnitGroups - 1) / maxUnitGroups;
    const int unitGroups = (hidden + U - 1) / U;
    const size_t bytes = sharedBytesFor(G, U, R, P);
    if (bytes > d.sharedLimit) continue;
    const double cycles = stepCycles(G, U, R, P);
    if (best.use && cycles >= bestCycles) continue;
    // both kernels (float4 or scalar shared loads, chosen at launch by alignment) must fit the whole grid
    int vecPerSm = 0, scalarPerSm = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&vecPerSm, reinterpret_cast<const void*>(persistentStepKernel<true>), kThreads, bytes) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&scalarPerSm, reinterpret_cast<const void*>(persistentStepKernel<false>), kThreads, bytes) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    if (std::min(vecPerSm, scalarPerSm) < 1 || unitGroups * groups > std::min(vecPerSm, scalarPerSm) * d.sms) continue;
    best = PersistentPlan{true, U, R, unitGroups, groups, bytes};
    bestCycles = cycles;
  }
  cache.emplace(key, best);
  return best;
}

cudaError_t launchPersistentStep(int device, const StepParams& p, const float* wHh, const PersistentStep* steps, int stepCount,
                                 float* hA, float* hB, unsigned* sync, const PersistentPlan& plan, cudaStream_t stream) {
  const DeviceState& d = deviceState(device);
  const int64_t grid = int64_t(plan.unitGroups) * plan.rowGroups;
  if (!plan.use || !d.usable || stepCount < 1 || grid * stepCount >= (int64_t(1) << 31)) return cudaErrorInvalidValue;
  PersistentArgs a{p, wHh, steps, stepCount, plan.unitsPerBlock, plan.rowsPerBlock, plan.unitGroups, hA, hB, sync, sync + 1, d.hostAbort};
  void* args[] = {&a};
  const bool vec = p.outSize % 4 == 0 && (reinterpret_cast<uintptr_t>(hA) & 15) == 0 && (reinterpret_cast<uintptr_t>(hB) & 15) == 0;
  void (*kernel)(PersistentArgs) = vec ? persistentStepKernel<true> : persistentStepKernel<false>;
  return cudaLaunchCooperativeKernel(kernel, dim3(unsigned(grid)), dim3(kThreads), args, plan.sharedBytes, stream);
}

size_t persistentBackwardPartials(const PersistentPlan& plan, int batch, int hidden) {
  return size_t(2) * plan.unitGroups * batch * hidden;
}

cudaError_t launchPersistentBackward(int device, const StepGradParams& p, const float* wHh, const PersistentStep* steps, int stepCount,
                                     int batch, float* dh, float* partials, unsigned* sync, const PersistentPlan& plan,
                                     cudaStream_t stream) {
  const DeviceState& d = deviceState(device);
  const int64_t grid = int64_t(plan.unitGroups) * plan.rowGroups;
  if (!plan.use || !d.usable || stepCount < 1 || grid * (stepCount + 1) >= (int64_t(1) << 31)) return cudaErrorInvalidValue;
  const int G = gateCount(p.kind);
  const size_t bytes = (size_t(G) * plan.unitsPerBlock * p.hidden + size_t(G) * plan.unitsPerBlock * ((plan.rowsPerBlock + 7) & ~7)) * sizeof(float);
  int perSm = 0;
  if (bytes > d.sharedLimit ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, reinterpret_cast<const void*>(persistentBackwardKernel), kThreads, bytes) != cudaSuccess ||
      int64_t(perSm) * d.sms < grid) {
    cudaGetLastError();
    return cudaErrorCooperativeLaunchTooLarge;
  }
  PersistentGradArgs a{p, wHh, steps, stepCount, batch, plan.unitsPerBlock, plan.rowsPerBlock, plan.unitGroups, dh, partials,
                       sync, sync + 1, d.hostAbort};
  void* args[] = {&a};
  return cudaLaunchCooperativeKernel(persistentBackwardKernel, dim3(unsigned(grid)), dim3(kThreads), args, bytes, stream);
}

bool persistentStepAborted(int device) {
  if (device < 0 || device >= 64) return false;
  int* flag = nullptr;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    flag = gDevices[device].hostAbort;
  }
  if (!flag || !*reinterpret_cast<volatile int*>(flag)) return false;
  *reinterpret_cast<volatile int*>(flag) = 0;
  gGaveUp[device].store(true);
  return true;
}

}  // namespace rnn::cuda
