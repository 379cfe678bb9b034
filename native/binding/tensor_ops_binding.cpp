// Entry points of the tensor-op primitives on CUDA float32 buffers (lib/autograd/device-kernels.ts calls them after
// checking shapes and devices). Every size, stride and index is checked again here against the buffers' lengths, so
// no call can make a kernel touch memory outside them. Launches are queued on the calling thread's stream and not
// waited for: the next op, a download or a free on that stream is ordered after them. A CPU-only build throws.
#include "tensor_ops_binding.h"

#include <cstdint>
#include <string>

#include "device_args.h"
#include "device_buffer.h"

#ifdef RNN_WITH_CUDA
#include "../cuda/cuda_context.h"
#include "../cuda/cuda_tensor_kernels.h"
#include "tensor_ops_args.h"
#endif

namespace rnn::binding {

namespace {

#ifdef RNN_WITH_CUDA
using namespace tensor_args;
#endif


// (dst, dstOffset, dstStrides, src, srcOffset, srcStrides, shape)
Napi::Value StridedCopy(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaStridedCopy";
  Napi::Env env = info.Env();
  DeviceBuffer* dst = floatBufferArg(info, 0, "dst");
  const int64_t dstOffset = sizeArg(info, 1, fn, "dstOffset");
  const auto dstStrides = listArg(info, 2, fn, "dstStrides");
  DeviceBuffer* src = floatBufferArg(info, 3, "src");
  const int64_t srcOffset = sizeArg(info, 4, fn, "srcOffset");
  const auto srcStrides = listArg(info, 5, fn, "srcStrides");
  const auto shape = listArg(info, 6, fn, "shape");
  const cuda::TwoStrided view = viewOf(env, fn, shape, dstStrides, srcStrides);
  checkExtent(env, fn, "dst", dst->length(), dstOffset, shape, dstStrides);
  checkExtent(env, fn, "src", src->length(), srcOffset, shape, srcStrides);
  const int device = sameDevice(env, fn, {dst, src});
  const int64_t n = numelOf(env, fn, shape);
  launchOn(env, fn, device, [&](cuda::Context& ctx) {
    cuda::launchStridedCopy(dst->data(), dstOffset, src->data(), srcOffset, view, n, ctx.stream);
  });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (op, out, x): out = op(x), same length.
Napi::Value Unary(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaUnary";
  Napi::Env env = info.Env();
  const auto op = cuda::UnaryOp(opArg(info, 0, fn, 6));
  DeviceBuffer* out = floatBufferArg(info, 1, "out");
  DeviceBuffer* x = floatBufferArg(info, 2, "x");
  checkLength(env, fn, "x", x, int64_t(out->length()));
  const int device = sameDevice(env, fn, {out, x});
  launchOn(env, fn, device, [&](cuda::Context& ctx) { cuda::launchUnary(op, out->data(), x->data(), int64_t(out->length()), ctx.stream); });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (op, gx, g, x | null, y | null): the op's gradient from its saved input and/or output, all of one length.
Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaUnaryBackward";
  Napi::Env env = info.Env();
  const auto op = cuda::UnaryOp(opArg(info, 0, fn, 6));
  DeviceBuffer* gx = floatBufferArg(info, 1, "gx");
  DeviceBuffer* g = floatBufferArg(info, 2, "g");
  DeviceBuffer* x = floatBufferArg(info, 3, "x", true);
  DeviceBuffer* y = floatBufferArg(info, 4, "y", true);
  if (op == cuda::UnaryOp::Log && !x) throw Napi::TypeError::New(env, "cudaUnaryBackward: log needs its input x");
  if (op != cuda::UnaryOp::Log && op != cuda::UnaryOp::Neg && !y) throw Napi::TypeError::New(env, "cudaUnaryBackward: this op needs its output y");
  const int64_t n = int64_t(gx->length());
  checkLength(env, fn, "g", g, n);
  checkLength(env, fn, "x", x, n);
  checkLength(env, fn, "y", y, n);
  const int device = sameDevice(env, fn, {gx, g, x, y});
  launchOn(env, fn, device, [&](cuda::Context& ctx) {
    cuda::launchUnaryBackward(op, gx->data(), g->data(), x ? x->data() : nullptr, y ? y->data() : nullptr, n, ctx.stream);
  });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (op, out, a, aStrides, b, bStrides, shape, alpha): out (contiguous over shape) = op(a, b) read through the strides.
Napi::Value Binary(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaBinary";
  Napi::Env env = info.Env();
  const auto op = cuda::BinaryOp(opArg(info, 0, fn, 3));
  DeviceBuffer* out = floatBufferArg(info, 1, "out");
  DeviceBuffer* a = floatBufferArg(info, 2, "a");
  const auto aStrides = listArg(info, 3, fn, "aStrides");
  DeviceBuffer* b = floatBufferArg(info, 4, "b");
  const auto bStrides = listArg(info, 5, fn, "bStrides");
  const auto shape = listArg(info, 6, fn, "shape");
  const float alpha = float(numberArg(info, 7, fn, "alpha"));
  const cuda::TwoStrided view = viewOf(env, fn, shape, aStrides, bStrides);
  const int64_t n = numelOf(env, fn, shape);
  checkLength(env, fn, "out", out, n);
  checkExtent(env, fn, "a", a->length(), 0, shape, aStrides);
  checkExtent(env, fn, "b", b->length(), 0, shape, bStrides);
  const int device = sameDevice(env, fn, {out, a, b});
  launchOn(env, fn, device, [&](cuda::Context& ctx) { cuda::launchBinary(op, out->data(), a->data(), b->data(), view, n, alpha, ctx.stream); });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (out, x, outer, n, inner, scale)
Napi::Value SumMiddle(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaSumMiddle";
  Napi::Env env = info.Env();
  DeviceBuffer* out = floatBufferArg(info, 0, "out");
  DeviceBuffer* x = floatBufferArg(info, 1, "x");
  const int64_t outer = sizeArg(info, 2, fn, "outer"), n = sizeArg(info, 3, fn, "n"), inner = sizeArg(info, 4, fn, "inner");
  const double scale = numberArg(info, 5, fn, "scale");
  checkLength(env, fn, "out", out, mulAdd(env, fn, outer, inner, 0));
  checkLength(env, fn, "x", x, mulAdd(env, fn, mulAdd(env, fn, outer, n, 0), inner, 0));
  const int device = sameDevice(env, fn, {out, x});
  launchOn(env, fn, device, [&](cuda::Context& ctx) { cuda::launchSumMiddle(out->data(), x->data(), outer, n, inner, scale, ctx.stream); });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (out, x, outer, n, inner, log)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaSoftmax";
  Napi::Env env = info.Env();
  DeviceBuffer* out = floatBufferArg(info, 0, "out");
  DeviceBuffer* x = floatBufferArg(info, 1, "x");
  const int64_t outer = sizeArg(info, 2, fn, "outer"), n = sizeArg(info, 3, fn, "n"), inner = sizeArg(info, 4, fn, "inner");
  const bool log = flagArg(info, 5, fn, "log");
  const int64_t total = mulAdd(env, fn, mulAdd(env, fn, outer, n, 0), inner, 0);
  checkLength(env, fn, "out", out, total);
  checkLength(env, fn, "x", x, total);
  const int device = sameDevice(env, fn, {out, x});
  launchOn(env, fn, device, [&](cuda::Context& ctx) { cuda::launchSoftmax(out->data(), x->data(), outer, n, inner, log, ctx.stream); });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (gx, g, y, outer, n, inner, log)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaSoftmaxBackward";
  Napi::Env env = info.Env();
  DeviceBuffer* gx = floatBufferArg(info, 0, "gx");
  DeviceBuffer* g = floatBufferArg(info, 1, "g");
  DeviceBuffer* y = floatBufferArg(info, 2, "y");
  const int64_t outer = sizeArg(info, 3, fn, "outer"), n = sizeArg(info, 4, fn, "n"), inner = sizeArg(info, 5, fn, "inner");
  const bool log = flagArg(info, 6, fn, "log");
  const int64_t total = mulAdd(env, fn, mulAdd(env, fn, outer, n, 0), inner, 0);
  checkLength(env, fn, "gx", gx, total);
  checkLength(env, fn, "g", g, total);
  checkLength(env, fn, "y", y, total);
  const int device = sameDevice(env, fn, {gx, g, y});
  launchOn(env, fn, device, [&](cuda::Context& ctx) {
    cuda::launchSoftmaxBackward(gx->data(), g->data(), y->data(), outer, n, inner, log, ctx.stream);
  });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (out, x, outer, size, inner, index): out is (outer, index.length, inner).
Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaIndexSelect";
  Napi::Env env = info.Env();
  DeviceBuffer* out = floatBufferArg(info, 0, "out");
  DeviceBuffer* x = floatBufferArg(info, 1, "x");
  const int64_t outer = sizeArg(info, 2, fn, "outer"), size = sizeArg(info, 3, fn, "size"), inner = sizeArg(info, 4, fn, "inner");
  DeviceIndex index(info, 5, fn, size);
  checkLength(env, fn, "x", x, mulAdd(env, fn, mulAdd(env, fn, outer, size, 0), inner, 0));
  checkLength(env, fn, "out", out, mulAdd(env, fn, mulAdd(env, fn, outer, index.count(), 0), inner, 0));
  const int device = sameDevice(env, fn, {out, x});
  launchOn(env, fn, device, [&](cuda::Context& ctx) {
    const int64_t* d = index.upload(ctx.stream);
    cuda::launchIndexSelect(out->data(), x->data(), outer, size, inner, d, index.count(), ctx.stream);
  });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (gx, g, outer, size, inner, index, skip): gx (outer, size, inner) += g (outer, index.length, inner) scattered; skip -1: none.
Napi::Value IndexAdd(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaIndexAdd";
  Napi::Env env = info.Env();
  DeviceBuffer* gx = floatBufferArg(info, 0, "gx");
  DeviceBuffer* g = floatBufferArg(info, 1, "g");
  const int64_t outer = sizeArg(info, 2, fn, "outer"), size = sizeArg(info, 3, fn, "size"), inner = sizeArg(info, 4, fn, "inner");
  DeviceIndex index(info, 5, fn, size);
  const double skip = numberArg(info, 6, fn, "skip");
  if (skip != -1 && !(skip >= 0 && skip < double(size) && skip == double(int64_t(skip)))) throw rangeError(env, fn, "skip must be -1 or an index");
  checkLength(env, fn, "gx", gx, mulAdd(env, fn, mulAdd(env, fn, outer, size, 0), inner, 0));
  checkLength(env, fn, "g", g, mulAdd(env, fn, mulAdd(env, fn, outer, index.count(), 0), inner, 0));
  const int device = sameDevice(env, fn, {gx, g});
  launchOn(env, fn, device, [&](cuda::Context& ctx) {
    const int64_t* d = index.upload(ctx.stream);
    cuda::launchIndexAdd(gx->data(), g->data(), outer, size, inner, d, index.count(), int64_t(skip), ctx.stream);
  });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

#ifdef RNN_WITH_CUDA
int gemmDim(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const int64_t v = sizeArg(info, i, "cudaGemmBatched", name);
  if (v > 2147483647) throw rangeError(info.Env(), "cudaGemmBatched", std::string(name) + " must fit in 32 bits");
  return int(v);
}

// Elements `batch` row-major rows x cols matrices, `stride` apart with leading dimension ld, reach.
void checkBatchExtent(Napi::Env env, const char* name, size_t have, int64_t batch, int64_t stride, int64_t rows, int64_t cols, int64_t ld) {
  const char* fn = "cudaGemmBatched";
  if (batch == 0 || rows == 0 || cols == 0) return;
  if (ld < cols) throw rangeError(env, fn, std::string(name) + ": leading dimension below the column count");
  const int64_t last = mulAdd(env, fn, batch - 1, stride, mulAdd(env, fn, rows - 1, ld, cols - 1));
  if (uint64_t(last) >= have) throw rangeError(env, fn, std::string(name) + " is too small for its shape");
}
#endif

// (transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch): for each b,
// C_b = alpha op(A_b) op(B_b) + beta C_b, row-major; a stride of 0 shares one A or B across the batch.
Napi::Value GemmBatched(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaGemmBatched";
  Napi::Env env = info.Env();
  if (info.Length() != 17) throw Napi::TypeError::New(env, "cudaGemmBatched: expected 17 arguments");
  const bool ta = flagArg(info, 0, fn, "transA"), tb = flagArg(info, 1, fn, "transB");
  const int M = gemmDim(info, 2, "M"), N = gemmDim(info, 3, "N"), K = gemmDim(info, 4, "K");
  const float alpha = float(numberArg(info, 5, fn, "alpha"));
  DeviceBuffer* A = floatBufferArg(info, 6, "A");
  const int lda = gemmDim(info, 7, "lda");
  const int64_t strideA = sizeArg(info, 8, fn, "strideA");
  DeviceBuffer* B = floatBufferArg(info, 9, "B");
  const int ldb = gemmDim(info, 10, "ldb");
  const int64_t strideB = sizeArg(info, 11, fn, "strideB");
  const float beta = float(numberArg(info, 12, fn, "beta"));
  DeviceBuffer* C = floatBufferArg(info, 13, "C");
  const int ldc = gemmDim(info, 14, "ldc");
  const int64_t strideC = sizeArg(info, 15, fn, "strideC");
  const int batch = gemmDim(info, 16, "batch");
  checkBatchExtent(env, "A", A->length(), batch, strideA, ta ? K : M, ta ? M : K, lda);
  checkBatchExtent(env, "B", B->length(), batch, strideB, tb ? N : K, tb ? K : N, ldb);
  checkBatchExtent(env, "C", C->length(), batch, strideC, M, N, ldc);
  // overlapping outputs would be written concurrently
  if (batch > 1 && M > 0 && N > 0 && strideC < int64_t(M - 1) * ldc + N) throw rangeError(env, fn, "the C matrices overlap");
  const int device = sameDevice(env, fn, {A, B, C});
  if (batch == 0 || M == 0 || N == 0) return env.Undefined();
  launchOn(env, fn, device, [&](cuda::Context& ctx) {
    cuda::check(cublasSetMathMode(ctx.blas, cuda::allowTf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    // row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the operands swap, their flags stay
    cuda::check(cublasSgemmStridedBatched(ctx.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha,
                                          B->data(), ldb, strideB, A->data(), lda, strideA, &beta, C->data(), ldc, strideC, batch),
                "cublasSgemmStridedBatched");
  });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (loss, x, t, posWeight | null, weight | null): all of one length (posWeight and weight broadcast by the caller).
Napi::Value BceWithLogits(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaBceWithLogits";
  Napi::Env env = info.Env();
  DeviceBuffer* loss = floatBufferArg(info, 0, "loss");
  DeviceBuffer* x = floatBufferArg(info, 1, "x");
  DeviceBuffer* t = floatBufferArg(info, 2, "t");
  DeviceBuffer* pw = floatBufferArg(info, 3, "posWeight", true);
  DeviceBuffer* w = floatBufferArg(info, 4, "weight", true);
  const int64_t n = int64_t(loss->length());
  for (const Named& b : {Named{"x", x}, Named{"t", t}, Named{"posWeight", pw}, Named{"weight", w}}) checkLength(env, fn, b.first, b.second, n);
  const int device = sameDevice(env, fn, {loss, x, t, pw, w});
  launchOn(env, fn, device, [&](cuda::Context& ctx) {
    cuda::launchBceWithLogits(loss->data(), x->data(), t->data(), pw ? pw->data() : nullptr, w ? w->data() : nullptr, n, ctx.stream);
  });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// (coef, x, t, posWeight | null, weight | null, gx | null, gt | null, gPosWeight | null, gWeight | null): one length.
Napi::Value BceWithLogitsBackward(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const char* fn = "cudaBceWithLogitsBackward";
  Napi::Env env = info.Env();
  DeviceBuffer* coef = floatBufferArg(info, 0, "coef");
  DeviceBuffer* x = floatBufferArg(info, 1, "x");
  DeviceBuffer* t = floatBufferArg(info, 2, "t");
  DeviceBuffer* pw = floatBufferArg(info, 3, "posWeight", true);
  DeviceBuffer* w = floatBufferArg(info, 4, "weight", true);
  DeviceBuffer* gx = floatBufferArg(info, 5, "gx", true);
  DeviceBuffer* gt = floatBufferArg(info, 6, "gt", true);
  DeviceBuffer* gpw = floatBufferArg(info, 7, "gPosWeight", true);
  DeviceBuffer* gw = floatBufferArg(info, 8, "gWeight", true);
  const int64_t n = int64_t(coef->length());
  for (const Named& b : {Named{"x", x}, Named{"t", t}, Named{"posWeight", pw}, Named{"weight", w}, Named{"gx", gx}, Named{"gt", gt},
                         Named{"gPosWeight", gpw}, Named{"gWeight", gw}}) {
    checkLength(env, fn, b.first, b.second, n);
  }
  const int device = sameDevice(env, fn, {coef, x, t, pw, w, gx, gt, gpw, gw});
  const auto ptr = [](DeviceBuffer* b) { return b ? b->data() : nullptr; };
  launchOn(env, fn, device, [&](cuda::Context& ctx) {
    cuda::launchBceWithLogitsBackward(coef->data(), x->data(), t->data(), ptr(pw), ptr(w), ptr(gx), ptr(gt), ptr(gpw), ptr(gw), n, ctx.stream);
  });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

}  // namespace

void RegisterTensorOps(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaStridedCopy", Napi::Function::New(env, StridedCopy, "cudaStridedCopy"));
  exports.Set("cudaUnary", Napi::Function::New(env, Unary, "cudaUnary"));
  exports.Set("cudaUnaryBackward", Napi::Function::New(env, UnaryBackward, "cudaUnaryBackward"));
  exports.Set("cudaBinary", Napi::Function::New(env, Binary, "cudaBinary"));
  exports.Set("cudaSumMiddle", Napi::Function::New(env, SumMiddle, "cudaSumMiddle"));
  exports.Set("cudaSoftmax", Napi::Function::New(env, Softmax, "cudaSoftmax"));
  exports.Set("cudaSoftmaxBackward", Napi::Function::New(env, SoftmaxBackward, "cudaSoftmaxBackward"));
  exports.Set("cudaIndexSelect", Napi::Function::New(env, IndexSelect, "cudaIndexSelect"));
  exports.Set("cudaIndexAdd", Napi::Function::New(env, IndexAdd, "cudaIndexAdd"));
  exports.Set("cudaGemmBatched", Napi::Function::New(env, GemmBatched, "cudaGemmBatched"));
  exports.Set("cudaBceWithLogits", Napi::Function::New(env, BceWithLogits, "cudaBceWithLogits"));
  exports.Set("cudaBceWithLogitsBackward", Napi::Function::New(env, BceWithLogitsBackward, "cudaBceWithLogitsBackward"));
}

}  // namespace rnn::binding
