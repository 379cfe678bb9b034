// The float16 / bfloat16 forward on CUDA: PyTorch's half-precision RNNs in cuDNN's way, half storage with
// float32 arithmetic. Inputs, weights, h and the outputs are half; every GEMM (cublasGemmEx, A and B half,
// CUBLAS_COMPUTE_32F) accumulates in float32 into float32 gate buffers; biases are folded into float32; the
// step kernel (the shared stepUnit, instantiated for the half type) computes in float32, keeps the LSTM cell
// state c in a float32 buffer and rounds h once per step (h is the next step's GEMM operand, as in PyTorch).
// c_0 is widened at the start and c_n rounded at the end. The layer / direction schedule is rnn_driver.h's,
// written out here because the state and inter-layer buffers differ in type; no CUDA graph and no fused step
// (both float32 only for now), no saving for backward (lib/ converts to float32 for training instead).
#include <cstdint>
#include <utility>

#include "cuda_backend.h"
#include "cuda_half_kernels.h"
#include "cuda_kernels.h"

namespace rnn::cuda {

namespace {

cudaDataType blasType(ElemType t) { return t == ElemType::BF16 ? CUDA_R_16BF : t == ElemType::F16 ? CUDA_R_16F : CUDA_R_32F; }

// Scratch of n elements of `type` (DeviceScratch counts in floats).
DeviceScratch scratchOf(CudaBackend& be, ElemType type, size_t n) {
  return be.scratch((n * elemSize(type) + sizeof(float) - 1) / sizeof(float));
}

template <class T>
T* at(const void* base, int64_t elements) {
  return static_cast<T*>(const_cast<void*>(base)) + elements;
}

// Row-major C[M,N] = A[M,K] B[N,K]^T with A, B of `in` and C of `out`, accumulated in float32 (column-major
// cuBLAS computes C^T = B A^T, as CudaBackend::gemmNT).
void gemmNT(Context& ctx, ElemType in, ElemType out, int M, int N, int K, const void* A, int lda, const void* B, int ldb, void* C,
            int ldc) {
  if (M <= 0 || N <= 0) return;
  const float one = 1.f, zero = 0.f;
  check(cublasGemmEx(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, B, blasType(in), ldb, A, blasType(in), lda, &zero, C,
                     blasType(out), ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
}

struct HalfLayer {
  CellKind kind;
  const SeqLayout* layout;
  int inputSize, hiddenSize, outSize;
  bool reverse;
  const void* input;     // [rows, inputSize] of T
  LayerWeights weights;  // pointers at T elements
  void* h;               // [B, outSize] of T: initial state in, final state out
  float* c;              // [B, hiddenSize] float32 (LSTM), else null
  void* output;          // this direction's columns (T), row r at output + r * outputStride
  int64_t outputStride;
};

template <class T>
void recurrence(CudaBackend& be, ElemType type, const HalfLayer& ld) {
  Context& ctx = be.ctx();
  const SeqLayout& L = *ld.layout;
  const int T_ = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = ld.weights.wHr != nullptr;
  const int64_t rows = L.rows;

  DeviceScratch xg = be.scratch(size_t(rows) * GH), hg = be.scratch(size_t(B) * GH), bias = be.scratch(size_t(GH) + H);
  DeviceScratch hSpare = scratchOf(be, type, size_t(B) * P), hFull = scratchOf(be, type, proj ? size_t(B) * H : 0);
  float* biasX = bias.data();
  float* biasHn = biasX + GH;
  check(cudaMemsetAsync(biasX, 0, sizeof(float) * (GH + H), ctx.stream), "cudaMemsetAsync");
  if (ld.weights.bIh) launchCombineBiasHalf(ld.kind, type, ld.weights.bIh, ld.weights.bHh, H, biasX, biasHn, ctx.stream);

  check(cublasSetMathMode(ctx.blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  gemmNT(ctx, type, ElemType::F32, int(rows), GH, I, ld.input, I, ld.weights.wIh, I, xg.data(), GH);
  T* hCur = at<T>(ld.h, 0);
  T* hNext = reinterpret_cast<T*>(hSpare.data());
  for (int s = 0; s < T_; ++s) {
    const int t = ld.reverse ? T_ - 1 - s : s;
    const int bs = L.batchSizes[t];
    gemmNT(ctx, type, ElemType::F32, bs, GH, P, hCur, P, ld.weights.wHh, P, hg.data(), GH);
    StepParamsOf<T> p{ld.kind, B, bs, H, P, xg.data(), L.rowBase[t], L.strideB, hg.data(), biasX, biasHn,
                      hCur, hNext, proj ? reinterpret_cast<T*>(hFull.data()) : nullptr, ld.c, at<T>(ld.output, 0),
                      ld.outputStride};
    launchStep(p, ctx.stream);
    if (proj) {
      // h_t = W_hr (o * tanh(c)): half operands, float32 accumulation, rounded once into hNext
      gemmNT(ctx, type, type, bs, P, H, hFull.data(), H, ld.weights.wHr, H, hNext, P);
      launchFinishProjected(p, ctx.stream);
    }
    check(cudaGetLastError(), "step kernel launch");
    std::swap(hCur, hNext);
  }
  if (hCur != at<T>(ld.h, 0)) {
    check(cudaMemcpyAsync(ld.h, hCur, size_t(B) * P * sizeof(T), cudaMemcpyDeviceToDevice, ctx.stream), "cudaMemcpyAsync");
  }
}

template <class T>
void forward(CudaBackend& be, const RnnSpec& spec, const RnnIo& io) {
  Context& ctx = be.ctx();
  const ElemType type = spec.dtype;
  const SeqLayout layout = SeqLayout::of(spec);
  const std::vector<LayerWeights> weights = layerWeights(spec, io);
  const int B = spec.batch, H = spec.hiddenSize, P = spec.outSize(), D = spec.directions();
  const bool lstm = hasCellState(spec.kind);
  const int64_t layerOut = layout.rows * D * P;
  // inter-layer outputs ping-pong between two half buffers; the last layer writes the caller's output
  DeviceScratch buffers = scratchOf(be, type, spec.numLayers > 1 ? size_t(layerOut) * (spec.numLayers > 2 ? 2 : 1) : 0);
  DeviceScratch cell = be.scratch(lstm ? size_t(B) * H : 0);  // float32 c of the layer-direction running

  const void* in = io.input.raw();
  int inSize = spec.inputSize;
  for (int l = 0; l < spec.numLayers; ++l) {
    const bool last = l == spec.numLayers - 1;
    T* out = last ? at<T>(io.output.raw(), 0) : reinterpret_cast<T*>(buffers.data()) + (l % 2) * layerOut;
    for (int d = 0; d < D; ++d) {
      const int ld = l * D + d;
      T* h = at<T>(io.hN.raw(), int64_t(ld) * B * P);
      const size_t hBytes = size_t(B) * P * sizeof(T);
      if (io.h0.data) check(cudaMemcpyAsync(h, at<T>(io.h0.raw(), int64_t(ld) * B * P), hBytes, cudaMemcpyDeviceToDevice, ctx.stream), "cudaMemcpyAsync");
      else check(cudaMemsetAsync(h, 0, hBytes, ctx.stream), "cudaMemsetAsync");  // all-zero bits are +0 in both half types
      if (lstm) {
        if (io.c0.data) launchConvert(cell.data(), ElemType::F32, at<T>(io.c0.raw(), int64_t(ld) * B * H), type, int64_t(B) * H, ctx.stream);
        else be.zero(cell.data(), size_t(B) * H);
      }
      recurrence<T>(be, type, HalfLayer{spec.kind, &layout, inSize, H, P, d == 1, in, weights[ld], h, lstm ? cell.data() : nullptr,
                                        out + d * P, int64_t(D) * P});
      if (lstm) launchConvert(at<T>(io.cN.raw(), int64_t(ld) * B * H), type, cell.data(), ElemType::F32, int64_t(B) * H, ctx.stream);
    }
    if (!last && spec.training && spec.dropout > 0.f) launchDropoutHalf(out, type, layerOut, spec.dropout, spec.seed + l, ctx.stream);
    in = out;
    inSize = D * P;
  }
  check(cudaGetLastError(), "half forward kernel launch");
}

}  // namespace

void rnnForwardCudaHalf(const RnnSpec& spec, const RnnIo& io, int device) {
  CudaBackend backend(device);
  try {
    if (spec.dtype == ElemType::BF16) forward<BF16Bits>(backend, spec, io);
    else forward<F16Bits>(backend, spec, io);
  } catch (...) {
    cudaStreamSynchronize(context(device).stream);  // leave no work in flight on memory the caller may free
    throw;
  }
  backend.finish();
}

}  // namespace rnn::cuda
