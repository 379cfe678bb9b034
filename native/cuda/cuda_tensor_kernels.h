// Launchers of the primitives behind the differentiable tensor ops and torch.nn.functional on CUDA tensors
// (lib/autograd/device-kernels.ts composes them). Float32 only; every launch goes on `stream` and returns without
// waiting, so a chain of ops costs no host round trip. Callers (tensor_ops_binding.cpp) have checked every
// extent: the kernels trust their sizes.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace rnn::cuda {

constexpr int kMaxTensorDims = 8;

// An index space of `ndim` dims (row-major order of its n elements) and, per dim, the element stride of each of two
// operands: the destination and source of a copy, or the two inputs of a binary op. Stride 0 repeats (broadcast).
struct TwoStrided {
  int ndim;
  int64_t size[kMaxTensorDims];
  int64_t stride[2][kMaxTensorDims];
};

enum class UnaryOp : int { Neg = 0, Tanh = 1, Sigmoid = 2, Relu = 3, Exp = 4, Log = 5 };
// Add: x + alpha y; Mul: (x y) alpha; Div: (x / y) alpha (alpha = 1 leaves the result exactly rounded once).
enum class BinaryOp : int { Add = 0, Mul = 1, Div = 2 };

// dst[dstOffset + sum_i idx_i * stride[0][i]] = src[srcOffset + sum_i idx_i * stride[1][i]] over the index space.
void launchStridedCopy(float* dst, int64_t dstOffset, const float* src, int64_t srcOffset, const TwoStrided& view, int64_t n,
                       cudaStream_t stream);
void launchUnary(UnaryOp op, float* out, const float* x, int64_t n, cudaStream_t stream);
// gx = dop/dx * g from the saved input x and output y (each op reads the one it needs).
void launchUnaryBackward(UnaryOp op, float* gx, const float* g, const float* x, const float* y, int64_t n, cudaStream_t stream);
// out[k] (contiguous over the index space) = op(a[..stride[0]..], b[..stride[1]..]).
void launchBinary(BinaryOp op, float* out, const float* a, const float* b, const TwoStrided& view, int64_t n, float alpha,
                  cudaStream_t stream);
// out[o, i] = scale * sum_s x[o, s, i] over an (outer, n, inner) layout, accumulated in double.
void launchSumMiddle(float* out, const float* x, int64_t outer, int64_t n, int64_t inner, double scale, cudaStream_t stream);
// softmax (or log-softmax) over the middle axis of (outer, n, inner).
void launchSoftmax(float* out, const float* x, int64_t outer, int64_t n, int64_t inner, bool log, cudaStream_t stream);
// From dL/dy and y: softmax: y (g - sum g y); log-softmax: g - exp(y) sum g.
void launchSoftmaxBackward(float* gx, const float* g, const float* y, int64_t outer, int64_t n, int64_t inner, bool log,
                           cudaStream_t stream);
// out[o, j, i] = x[o, index[j], i] for an (outer, size, inner) x and `count` indices in [0, size) (device memory).
void launchIndexSelect(float* out, const float* x, int64_t outer, int64_t size, int64_t inner, const int64_t* index, int64_t count,
                       cudaStream_t stream);
// gx[o, index[j], i] += g[o, j, i], skipping index[j] == skip (-1: none); repeated indices accumulate (atomics).
void launchIndexAdd(float* gx, const float* g, int64_t outer, int64_t size, int64_t inner, const int64_t* index, int64_t count,
                    int64_t skip, cudaStream_t stream);

// binary_cross_entropy_with_logits per element over n contiguous elements (posWeight and weight already broadcast
// to n; null: 1): loss = w ((1 - t) x + (1 + (pw - 1) t) softplus(-x)).
void launchBceWithLogits(float* loss, const float* x, const float* t, const float* pw, const float* w, int64_t n, cudaStream_t stream);
// From coef = dL/dloss per element: the gradients wanted (null: not wanted) of x, t, pw and w, per element.
void launchBceWithLogitsBackward(const float* coef, const float* x, const float* t, const float* pw, const float* w, float* gx,
                                 float* gt, float* gpw, float* gw, int64_t n, cudaStream_t stream);

}  // namespace rnn::cuda
