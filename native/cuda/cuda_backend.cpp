#include "cuda_backend.h"

#include <stdexcept>
#include <utility>

#include "cuda_fused_step.h"
#include "cuda_half_kernels.h"
#include "cuda_kernels.h"
#include "cuda_persistent_step.h"

namespace rnn::cuda {

DeviceScratch::DeviceScratch(Context& ctx, size_t floats, std::vector<void*>* owner) : ctx_(ctx), owned_(owner != nullptr) {
  if (floats == 0) return;
  if (owner) {
    check(cudaMalloc(reinterpret_cast<void**>(&data_), floats * sizeof(float)), "cudaMalloc");
    owner->push_back(data_);
  } else {
    check(cudaMallocAsync(reinterpret_cast<void**>(&data_), floats * sizeof(float), ctx.stream), "cudaMallocAsync");
  }
}

DeviceScratch::~DeviceScratch() {
  if (data_ && !owned_) cudaFreeAsync(data_, ctx_.stream);
}

// C[M,N] = A[M,K] * B[N,K]^T in row-major terms; cuBLAS is column-major, so this is
// C^T (N x M) = B (N x K, stored as K x N column-major, transposed) * A^T.
void blasGemmNT(cublasHandle_t blas, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  const float one = 1.f, zero = 0.f;
  check(cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, B, ldb, A, lda, &zero, C, ldc), "cublasSgemm");
}

void setBlasMath(cublasHandle_t blas, bool tf32) {
  check(cublasSetMathMode(blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
}

void CudaBackend::gemmNT(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  blasGemmNT(ctx_.blas, M, N, K, A, lda, B, ldb, C, ldc);
}

void CudaBackend::recurrence(const LayerDirection& ld) {
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = ld.weights.wHr != nullptr;
  const int64_t rows = L.rows;

  // a persistent launch is one cooperative kernel with its own step table: never inside a graph capture
  const PersistentPlan persistent = capturing_ ? PersistentPlan{} : planPersistentStep(ctx_.device, ld.kind, B, H, P, proj);
  const FusedStepPlan fused = persistent.use ? FusedStepPlan{} : planFusedStep(ld.kind, B, H, P, proj);
  DeviceScratch xg = scratch(size_t(rows) * GH), hSpare = scratch(size_t(B) * P);
  DeviceScratch hFull = scratch(proj ? size_t(B) * H : 0), bias = scratch(size_t(GH) + H);
  float* biasX = bias.data();
  float* biasHn = biasX + GH;
  if (ld.weights.bIh) launchCombineBias(ld.kind, ld.weights.bIh, ld.weights.bHh, H, biasX, biasHn, ctx_.stream);
  else check(cudaMemsetAsync(biasX, 0, sizeof(float) * (GH + H), ctx_.stream), "cudaMemsetAsync");
  if (ld.kind != CellKind::Gru && ld.weights.bIh) check(cudaMemsetAsync(biasHn, 0, sizeof(float) * H, ctx_.stream), "cudaMemsetAsync");

  sequenceMath();
  gemmNT(int(rows), GH, I, ld.input, I, ld.weights.wIh, I, xg.data(), GH);
  if (persistent.use && persistentRecurrence(ld, persistent, xg.data(), biasX, biasHn, hSpare.data())) return;
  DeviceScratch hg = scratch(fused.use ? 0 : size_t(B) * GH);
  recurrentMath(latencyBoundStep(ld.kind, B, H, P));
  float* hCur = ld.h;
  float* hNext = hSpare.data();
  for (int s = 0; s < T; ++s) {
    const int t = ld.reverse ? T - 1 - s : s;
    const int bs = L.batchSizes[t];
    if (!fused.use) gemmNT(bs, GH, P, hCur, P, ld.weights.wHh, P, hg.data(), GH);
    StepParams p{ld.kind, B, bs, H, P, xg.data(), L.rowBase[t], L.strideB, hg.data(), biasX, biasHn,
                 hCur, hNext, proj ? hFull.data() : nullptr, ld.c, ld.output, ld.outputStride,
                 ld.saved.gates, ld.saved.blocks, ld.saved.hPrev, ld.saved.cPrev, ld.saved.hFull};
    if (fused.use) launchFusedStep(p, ld.weights.wHh, fused, ctx_.stream);
    else launchStep(p, ctx_.stream);
    if (proj) {
      gemmNT(bs, P, H, hFull.data(), H, ld.weights.wHr, H, hNext, P);
      launchFinishProjected(p, ctx_.stream);
    }
    check(cudaGetLastError(), "step kernel launch");
    std::swap(hCur, hNext);
  }
  if (hCur != ld.h) copy(ld.h, hCur, size_t(B) * P);
}

bool CudaBackend::persistentRecurrence(const LayerDirection& ld, const PersistentPlan& plan, const float* xg, const float* biasX,
                                       const float* biasHn, float* hSpare) {
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0], H = ld.hiddenSize, P = ld.outSize;
  std::vector<PersistentStep> steps(static_cast<size_t>(T));
  for (int s = 0; s < T; ++s) {
    const int t = ld.reverse ? T - 1 - s : s;
    steps[size_t(s)] = PersistentStep{L.rowBase[t], L.batchSizes[t], 0};
  }
  // the step table, then the barrier counter and abort flag (zeroed)
  const size_t tableBytes = steps.size() * sizeof(PersistentStep);
  DeviceScratch table = scratch((tableBytes + 2 * sizeof(unsigned)) / sizeof(float) + 1);
  auto* sync = reinterpret_cast<unsigned*>(reinterpret_cast<char*>(table.data()) + tableBytes);
  // pageable source: the copy is staged before cudaMemcpyAsync returns, so `steps` may go out of scope
  check(cudaMemcpyAsync(table.data(), steps.data(), tableBytes, cudaMemcpyHostToDevice, ctx_.stream), "cudaMemcpyAsync");
  check(cudaMemsetAsync(sync, 0, 2 * sizeof(unsigned), ctx_.stream), "cudaMemsetAsync");
  StepParams p{ld.kind, B, B, H, P, xg, 0, L.strideB, nullptr, biasX, biasHn, ld.h, hSpare, nullptr, ld.c, ld.output,
               ld.outputStride, ld.saved.gates, ld.saved.blocks, ld.saved.hPrev, ld.saved.cPrev, ld.saved.hFull};
  const cudaError_t status = launchPersistentStep(ctx_.device, p, ld.weights.wHh, reinterpret_cast<const PersistentStep*>(table.data()),
                                                  T, ld.h, hSpare, sync, plan, ctx_.stream);
  if (status != cudaSuccess) {
    cudaGetLastError();  // e.g. too large for a cooperative launch right now: the caller runs the step loop
    return false;
  }
  if (T % 2 == 1) copy(ld.h, hSpare, size_t(B) * P);
  return true;
}

void CudaBackend::setMath(bool tf32) { setBlasMath(ctx_.blas, tf32); }

void CudaBackend::convert(void* dst, ElemType dstType, const void* src, ElemType srcType, size_t n) {
  launchConvert(dst, dstType, src, srcType, int64_t(n), ctx_.stream);
}

void CudaBackend::dropout(float* data, size_t n, float p, uint64_t seed) {
  launchDropout(data, int64_t(n), p, seed, ctx_.stream);
}

void rnnForwardCuda(const RnnSpec& spec, const RnnIo& io, int device) {
  CudaBackend backend(device);
  check(prepareFusedStep(device), "cudaFuncSetAttribute");
  try {
    if (!rnnForwardPipelined(backend, spec, io) && !rnnForwardGraph(backend, spec, io)) rnnForward(backend, spec, io);
  } catch (...) {
    cudaStreamSynchronize(context(device).stream);  // leave no work in flight on memory the caller may free
    throw;
  }
  backend.finish();
  if (persistentStepAborted(device)) {
    throw std::runtime_error("CUDA forward: the persistent step kernel timed out waiting at a grid barrier, so its results were discarded "
                             "(a bug: please report it); this process now runs the step-by-step loop on that device instead (NODE_RNN_CUDA_PERSISTENT=0 does so from the start)");
  }
}

}  // namespace rnn::cuda
