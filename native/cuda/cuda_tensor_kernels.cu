// Tensor-op primitives on CUDA (see cuda_tensor_kernels.h). Element-wise kernels use grid-stride loops over 64-bit
// indices, so a launch never needs more blocks than the grid allows; reductions give each output row a block
// (or a thread when rows are short) and accumulate in double, like the host ops they replace.
#include <cfloat>

#include "cuda_tensor_kernels.h"

namespace rnn::cuda {

namespace {

constexpr int kThreads = 256;
// Rows at most this long are reduced by one thread: a block per row would leave most threads idle.
constexpr int64_t kShortRow = 32;
constexpr int64_t kMaxBlocks = int64_t(1) << 20;

inline unsigned blocksFor(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < kMaxBlocks ? (b > 0 ? b : 1) : kMaxBlocks);
}

inline unsigned rowBlocks(int64_t rows) { return unsigned(rows < kMaxBlocks ? rows : kMaxBlocks); }

__device__ inline int64_t gridStart() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t gridStep() { return int64_t(gridDim.x) * blockDim.x; }

// Offsets of element k (row-major over the index space) in both operands.
__device__ inline void offsetsOf(const TwoStrided& v, int64_t k, int64_t& first, int64_t& second) {
  first = 0;
  second = 0;
  for (int d = v.ndim - 1; d >= 0; d--) {
    const int64_t i = k % v.size[d];
    k /= v.size[d];
    first += i * v.stride[0][d];
    second += i * v.stride[1][d];
  }
}

__global__ void stridedCopyKernel(float* dst, int64_t dstOffset, const float* src, int64_t srcOffset, TwoStrided v, int64_t n) {
  for (int64_t k = gridStart(); k < n; k += gridStep()) {
    int64_t to, from;
    offsetsOf(v, k, to, from);
    dst[dstOffset + to] = src[srcOffset + from];
  }
}

__device__ inline float unaryForward(UnaryOp op, float x) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Tanh: return tanhf(x);
    case UnaryOp::Sigmoid: return 1.f / (1.f + expf(-x));
    case UnaryOp::Relu: return x > 0.f ? x : (x == x ? 0.f : x);  // NaN stays NaN, like clamp_min
    case UnaryOp::Exp: return expf(x);
    default: return logf(x);
  }
}

__device__ inline float unaryGrad(UnaryOp op, float g, float x, float y) {
  switch (op) {
    case UnaryOp::Neg: return -g;
    case UnaryOp::Tanh: return g * (1.f - y * y);
    case UnaryOp::Sigmoid: return g * y * (1.f - y);
    case UnaryOp::Relu: return y > 0.f ? g : 0.f;
    case UnaryOp::Exp: return g * y;
    default: return g / x;
  }
}

__global__ void unaryKernel(UnaryOp op, float* out, const float* x, int64_t n) {
  for (int64_t k = gridStart(); k < n; k += gridStep()) out[k] = unaryForward(op, x[k]);
}

__global__ void unaryBackwardKernel(UnaryOp op, float* gx, const float* g, const float* x, const float* y, int64_t n) {
  for (int64_t k = gridStart(); k < n; k += gridStep()) gx[k] = unaryGrad(op, g[k], x ? x[k] : 0.f, y ? y[k] : 0.f);
}

__global__ void binaryKernel(BinaryOp op, float* out, const float* a, const float* b, TwoStrided v, int64_t n, float alpha) {
  for (int64_t k = gridStart(); k < n; k += gridStep()) {
    int64_t i, j;
    offsetsOf(v, k, i, j);
    const float x = a[i], y = b[j];
    out[k] = op == BinaryOp::Add ? x + alpha * y : op == BinaryOp::Mul ? (x * y) * alpha : (x / y) * alpha;
  }
}

// Sum (or max) of one value per thread over the block; every thread gets the result.
template <class T, bool kMax>
__device__ T blockReduce(T value) {
  __shared__ T shared[kThreads];
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (int(threadIdx.x) < s) {
      const T other = shared[threadIdx.x + s];
      shared[threadIdx.x] = kMax ? (other > shared[threadIdx.x] ? other : shared[threadIdx.x]) : shared[threadIdx.x] + other;
    }
    __syncthreads();
  }
  const T result = shared[0];
  __syncthreads();  // the next reduction reuses shared[]
  return result;
}

__global__ void sumRowsThreadKernel(float* out, const float* x, int64_t outer, int64_t n, int64_t inner, double scale) {
  for (int64_t r = gridStart(); r < outer * inner; r += gridStep()) {
    const float* row = x + (r / inner) * n * inner + r % inner;
    double acc = 0;
    for (int64_t s = 0; s < n; s++) acc += row[s * inner];
    out[r] = float(acc * scale);
  }
}

__global__ void sumRowsBlockKernel(float* out, const float* x, int64_t outer, int64_t n, int64_t inner, double scale) {
  for (int64_t r = blockIdx.x; r < outer * inner; r += gridDim.x) {
    const float* row = x + (r / inner) * n * inner + r % inner;
    double acc = 0;
    for (int64_t s = threadIdx.x; s < n; s += blockDim.x) acc += row[s * inner];
    acc = blockReduce<double, false>(acc);
    if (threadIdx.x == 0) out[r] = float(acc * scale);
  }
}

// One softmax row: the maximum is subtracted first (all -inf: 0, giving NaN after normalizing, as the host op does).
__device__ inline void softmaxRow(float* out, const float* x, int64_t n, int64_t inner, bool log, int64_t first, int64_t step,
                                  bool block) {
  float max = -INFINITY;
  for (int64_t s = first; s < n; s += step) max = fmaxf(max, x[s * inner]);
  if (block) max = blockReduce<float, true>(max);
  if (max == -INFINITY) max = 0.f;
  double total = 0;
  for (int64_t s = first; s < n; s += step) total += exp(double(x[s * inner] - max));
  if (block) total = blockReduce<double, false>(total);
  if (log) {
    const float shift = float(double(max) + ::log(total));
    for (int64_t s = first; s < n; s += step) out[s * inner] = x[s * inner] - shift;
  } else {
    for (int64_t s = first; s < n; s += step) out[s * inner] = float(exp(double(x[s * inner] - max)) / total);
  }
}

__device__ inline void softmaxGradRow(float* gx, const float* g, const float* y, int64_t n, int64_t inner, bool log, int64_t first,
                                      int64_t step, bool block) {
  double dot = 0;
  for (int64_t s = first; s < n; s += step) dot += log ? double(g[s * inner]) : double(g[s * inner]) * y[s * inner];
  if (block) dot = blockReduce<double, false>(dot);
  for (int64_t s = first; s < n; s += step) {
    const int64_t at = s * inner;
    gx[at] = log ? float(g[at] - exp(double(y[at])) * dot) : float(y[at] * (g[at] - dot));
  }
}

__global__ void softmaxThreadKernel(float* out, const float* x, int64_t outer, int64_t n, int64_t inner, bool log) {
  for (int64_t r = gridStart(); r < outer * inner; r += gridStep()) {
    const int64_t base = (r / inner) * n * inner + r % inner;
    softmaxRow(out + base, x + base, n, inner, log, 0, 1, false);
  }
}

__global__ void softmaxBlockKernel(float* out, const float* x, int64_t outer, int64_t n, int64_t inner, bool log) {
  for (int64_t r = blockIdx.x; r < outer * inner; r += gridDim.x) {
    const int64_t base = (r / inner) * n * inner + r % inner;
    softmaxRow(out + base, x + base, n, inner, log, threadIdx.x, blockDim.x, true);
  }
}

__global__ void softmaxGradThreadKernel(float* gx, const float* g, const float* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  for (int64_t r = gridStart(); r < outer * inner; r += gridStep()) {
    const int64_t base = (r / inner) * n * inner + r % inner;
    softmaxGradRow(gx + base, g + base, y + base, n, inner, log, 0, 1, false);
  }
}

__global__ void softmaxGradBlockKernel(float* gx, const float* g, const float* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  for (int64_t r = blockIdx.x; r < outer * inner; r += gridDim.x) {
    const int64_t base = (r / inner) * n * inner + r % inner;
    softmaxGradRow(gx + base, g + base, y + base, n, inner, log, threadIdx.x, blockDim.x, true);
  }
}

__global__ void indexSelectKernel(float* out, const float* x, int64_t size, int64_t inner, const int64_t* index, int64_t count,
                                  int64_t n) {
  for (int64_t k = gridStart(); k < n; k += gridStep()) {
    const int64_t i = k % inner;
    const int64_t j = (k / inner) % count;
    const int64_t o = k / (inner * count);
    out[k] = x[(o * size + index[j]) * inner + i];
  }
}

__global__ void indexAddKernel(float* gx, const float* g, int64_t size, int64_t inner, const int64_t* index, int64_t count,
                               int64_t skip, int64_t n) {
  for (int64_t k = gridStart(); k < n; k += gridStep()) {
    const int64_t i = k % inner;
    const int64_t j = (k / inner) % count;
    const int64_t o = k / (inner * count);
    if (index[j] != skip) atomicAdd(gx + (o * size + index[j]) * inner + i, g[k]);
  }
}

// -log sigmoid(x) = softplus(-x), stable for either sign
__device__ inline float softplusNeg(float x) { return fmaxf(-x, 0.f) + log1pf(expf(-fabsf(x))); }

__global__ void bceKernel(float* loss, const float* x, const float* t, const float* pw, const float* w, int64_t n) {
  for (int64_t e = gridStart(); e < n; e += gridStep()) {
    const float v = x[e], y = t[e], p = pw ? pw[e] : 1.f;
    loss[e] = (w ? w[e] : 1.f) * ((1.f - y) * v + (1.f + (p - 1.f) * y) * softplusNeg(v));
  }
}

__global__ void bceBackwardKernel(const float* coef, const float* x, const float* t, const float* pw, const float* w, float* gx,
                                  float* gt, float* gpw, float* gw, int64_t n) {
  for (int64_t e = gridStart(); e < n; e += gridStep()) {
    const float c = coef[e], v = x[e], y = t[e], p = pw ? pw[e] : 1.f, wt = w ? w[e] : 1.f;
    const float sp = softplusNeg(v);
    if (gx) {
      const float sigmoidNeg = v >= 0.f ? expf(-v) / (1.f + expf(-v)) : 1.f / (1.f + expf(v));
      gx[e] = c * wt * (1.f - y - (1.f + (p - 1.f) * y) * sigmoidNeg);
    }
    if (gt) gt[e] = c * wt * (-v + (p - 1.f) * sp);
    if (gpw) gpw[e] = c * wt * y * sp;
    if (gw) gw[e] = c * ((1.f - y) * v + (1.f + (p - 1.f) * y) * sp);
  }
}

}  // namespace

void launchBceWithLogits(float* loss, const float* x, const float* t, const float* pw, const float* w, int64_t n, cudaStream_t stream) {
  if (n > 0) bceKernel<<<blocksFor(n), kThreads, 0, stream>>>(loss, x, t, pw, w, n);
}

void launchBceWithLogitsBackward(const float* coef, const float* x, const float* t, const float* pw, const float* w, float* gx,
                                 float* gt, float* gpw, float* gw, int64_t n, cudaStream_t stream) {
  if (n > 0) bceBackwardKernel<<<blocksFor(n), kThreads, 0, stream>>>(coef, x, t, pw, w, gx, gt, gpw, gw, n);
}

void launchStridedCopy(float* dst, int64_t dstOffset, const float* src, int64_t srcOffset, const TwoStrided& view, int64_t n,
                       cudaStream_t stream) {
  if (n > 0) stridedCopyKernel<<<blocksFor(n), kThreads, 0, stream>>>(dst, dstOffset, src, srcOffset, view, n);
}

void launchUnary(UnaryOp op, float* out, const float* x, int64_t n, cudaStream_t stream) {
  if (n > 0) unaryKernel<<<blocksFor(n), kThreads, 0, stream>>>(op, out, x, n);
}

void launchUnaryBackward(UnaryOp op, float* gx, const float* g, const float* x, const float* y, int64_t n, cudaStream_t stream) {
  if (n > 0) unaryBackwardKernel<<<blocksFor(n), kThreads, 0, stream>>>(op, gx, g, x, y, n);
}

void launchBinary(BinaryOp op, float* out, const float* a, const float* b, const TwoStrided& view, int64_t n, float alpha,
                  cudaStream_t stream) {
  if (n > 0) binaryKernel<<<blocksFor(n), kThreads, 0, stream>>>(op, out, a, b, view, n, alpha);
}

void launchSumMiddle(float* out, const float* x, int64_t outer, int64_t n, int64_t inner, double scale, cudaStream_t stream) {
  const int64_t rows = outer * inner;
  if (rows == 0) return;
  if (n <= kShortRow) sumRowsThreadKernel<<<blocksFor(rows), kThreads, 0, stream>>>(out, x, outer, n, inner, scale);
  else sumRowsBlockKernel<<<rowBlocks(rows), kThreads, 0, stream>>>(out, x, outer, n, inner, scale);
}

void launchSoftmax(float* out, const float* x, int64_t outer, int64_t n, int64_t inner, bool log, cudaStream_t stream) {
  const int64_t rows = outer * inner;
  if (rows == 0 || n == 0) return;
  if (n <= kShortRow) softmaxThreadKernel<<<blocksFor(rows), kThreads, 0, stream>>>(out, x, outer, n, inner, log);
  else softmaxBlockKernel<<<rowBlocks(rows), kThreads, 0, stream>>>(out, x, outer, n, inner, log);
}

void launchSoftmaxBackward(float* gx, const float* g, const float* y, int64_t outer, int64_t n, int64_t inner, bool log,
                           cudaStream_t stream) {
  const int64_t rows = outer * inner;
  if (rows == 0 || n == 0) return;
  if (n <= kShortRow) softmaxGradThreadKernel<<<blocksFor(rows), kThreads, 0, stream>>>(gx, g, y, outer, n, inner, log);
  else softmaxGradBlockKernel<<<rowBlocks(rows), kThreads, 0, stream>>>(gx, g, y, outer, n, inner, log);
}

void launchIndexSelect(float* out, const float* x, int64_t outer, int64_t size, int64_t inner, const int64_t* index, int64_t count,
                       cudaStream_t stream) {
  const int64_t n = outer * count * inner;
  if (n > 0) indexSelectKernel<<<blocksFor(n), kThreads, 0, stream>>>(out, x, size, inner, index, count, n);
}

void launchIndexAdd(float* gx, const float* g, int64_t outer, int64_t size, int64_t inner, const int64_t* index, int64_t count,
                    int64_t skip, cudaStream_t stream) {
  const int64_t n = outer * count * inner;
  if (n > 0) indexAddKernel<<<blocksFor(n), kThreads, 0, stream>>>(gx, g, size, inner, index, count, skip, n);
}

}  // namespace rnn::cuda
