// The CUDA reverse loop of one layer-direction, the same schedule as native/cpu/cpu_backward.cpp: per step
// (in reverse processing order) the upstream gradient of the step's rows, the fused element-wise backward
// and one GEMM for dL/dh_{t-1}; then the weight gradients as a few large GEMMs over all rows
// (dW_ih = dG_x^T X, dW_hh = dG_h^T H_prev, biases = column sums) and dX = dG_x W_ih.
#include <stdexcept>
#include <utility>
#include <vector>

#include "cuda_backend.h"
#include "cuda_backward_kernels.h"
#include "cuda_fused_step.h"
#include "cuda_kernels.h"

namespace rnn::cuda {

// cuBLAS is column-major: a row-major C[M,N] is a column-major C^T[N,M], so every product is written
// transposed: (A B)^T = B^T A^T.
void CudaBackend::gemmNN(int M, int N, int K, const float* A, int64_t lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  const float one = 1.f;
  check(cublasSgemm(ctx_.blas, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, B, ldb, A, int(lda), &beta, C, ldc), "cublasSgemm");
}

void CudaBackend::gemmTNAccumulate(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  const float one = 1.f;
  check(cublasSgemm(ctx_.blas, CUBLAS_OP_N, CUBLAS_OP_T, N, M, K, &one, B, ldb, A, lda, &one, C, ldc), "cublasSgemm");
}

void CudaBackend::columnSumsAccumulate(int rows, int N, const float* A, int lda, const float* ones, float* y) {
  if (rows <= 0 || N <= 0) return;
  const float one = 1.f;
  check(cublasSgemv(ctx_.blas, CUBLAS_OP_N, N, rows, &one, A, lda, ones, 1, &one, y, 1), "cublasSgemv");
}

void CudaBackend::recurrenceBackward(const LayerDirectionGrad& ld) {
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = ld.weights.wHr != nullptr, gru = ld.kind == CellKind::Gru, lstm = ld.kind == CellKind::Lstm;
  const int rows = int(L.rows);
  recurrentMath(latencyBoundStep(ld.kind, B, H, P));

  DeviceScratch gx = scratch(size_t(rows) * GH), ghGru = scratch(gru ? size_t(rows) * GH : 0);
  DeviceScratch dhRows = scratch(proj ? size_t(rows) * P : 0), dh = scratch(size_t(B) * P);
  DeviceScratch dc = scratch(lstm ? size_t(B) * H : 0), dhFull = scratch(proj ? size_t(B) * H : 0);
  DeviceScratch ones = scratch(ld.grads.bIh ? size_t(rows) : 0);
  float* gh = gru ? ghGru.data() : gx.data();
  if (ld.gradHN) copy(dh.data(), ld.gradHN, size_t(B) * P);
  else zero(dh.data(), size_t(B) * P);
  if (lstm) {
    if (ld.gradCN) copy(dc.data(), ld.gradCN, size_t(B) * H);
    else zero(dc.data(), size_t(B) * H);
  }

  const PersistentPlan persistent = proj ? PersistentPlan{} : planPersistentStep(ctx_.device, ld.kind, B, H, P, proj);
  const bool done = persistent.use && persistentRecurrenceBackward(ld, persistent, gx.data(), gh, dh.data(), lstm ? dc.data() : nullptr);
  for (int s = done ? -1 : T - 1; s >= 0; --s) {
    const int t = ld.reverse ? T - 1 - s : s;
    const int bs = L.batchSizes[t];
    const int64_t base = L.rowBase[t], strideB = L.strideB;
    // without projections the upstream rows are added inside the cell kernel (one launch less per step)
    const float* gradH = dh.data();
    if (proj) {
      launchAddStepGrad(dh.data(), bs, P, ld.gradOutput, ld.gradOutputStride, base, strideB, dhRows.data(), ctx_.stream);
      gemmNN(bs, H, P, dh.data(), P, ld.weights.wHr, H, 0.f, dhFull.data(), H);
      gradH = dhFull.data();
    }
    launchCellBackward(StepGradParams{ld.kind, bs, H, base, strideB, gradH, proj ? nullptr : ld.gradOutput,
                                      ld.gradOutputStride, gru ? dh.data() : nullptr, ld.saved.gates, ld.saved.hPrev,
                                      ld.saved.cPrev, lstm ? dc.data() : nullptr, gx.data(), gh},
                       ctx_.stream);
    check(cudaGetLastError(), "backward step kernel launch");
    // dL/dh_{t-1} of the active rows (GRU adds to dh * z, which the kernel left in dh); inactive rows keep
    // their gradient, as forward kept their h
    gemmNN(bs, P, GH, gh + base * GH, strideB * GH, ld.weights.wHh, P, gru ? 1.f : 0.f, dh.data(), P);
  }

  sequenceMath();
  gemmTNAccumulate(GH, I, rows, gx.data(), GH, ld.input, I, ld.grads.wIh, I);
  gemmTNAccumulate(GH, P, rows, gh, GH, ld.saved.hPrev, P, ld.grads.wHh, P);
  if (ld.grads.bIh) {
    launchFill(ones.data(), rows, 1.f, ctx_.stream);
    columnSumsAccumulate(rows, GH, gx.data(), GH, ones.data(), ld.grads.bIh);
    columnSumsAccumulate(rows, GH, gh, GH, ones.data(), ld.grads.bHh);
  }
  if (proj) gemmTNAccumulate(P, H, rows, dhRows.data(), P, ld.saved.hFull, H, ld.grads.wHr, H);
  if (ld.gradInput) gemmNN(rows, I, GH, gx.data(), GH, ld.weights.wIh, I, ld.accumulateInput ? 1.f : 0.f, ld.gradInput, I);
  if (ld.gradH0) copy(ld.gradH0, dh.data(), size_t(B) * P);
  if (lstm && ld.gradC0) copy(ld.gradC0, dc.data(), size_t(B) * H);
  check(cudaGetLastError(), "backward kernel launch");
}

bool CudaBackend::persistentRecurrenceBackward(const LayerDirectionGrad& ld, const PersistentPlan& plan, float* gx, float* gh, float* dh,
                                               float* dc) {
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0], H = ld.hiddenSize;
  // the reverse loop's order: the forward's last processed step first
  std::vector<PersistentStep> steps(static_cast<size_t>(T));
  for (int i = 0; i < T; ++i) {
    const int s = T - 1 - i, t = ld.reverse ? T - 1 - s : s;
    steps[size_t(i)] = PersistentStep{L.rowBase[t], L.batchSizes[t], 0};
  }
  const size_t tableBytes = steps.size() * sizeof(PersistentStep);
  DeviceScratch table = scratch((tableBytes + 2 * sizeof(unsigned)) / sizeof(float) + 1);
  DeviceScratch partials = scratch(persistentBackwardPartials(plan, B, H));
  auto* sync = reinterpret_cast<unsigned*>(reinterpret_cast<char*>(table.data()) + tableBytes);
  check(cudaMemcpyAsync(table.data(), steps.data(), tableBytes, cudaMemcpyHostToDevice, ctx_.stream), "cudaMemcpyAsync");
  check(cudaMemsetAsync(sync, 0, 2 * sizeof(unsigned), ctx_.stream), "cudaMemsetAsync");
  const bool gru = ld.kind == CellKind::Gru;
  const StepGradParams p{ld.kind, B, H, 0, L.strideB, dh, ld.gradOutput, ld.gradOutputStride, gru ? dh : nullptr,
                         ld.saved.gates, ld.saved.hPrev, ld.saved.cPrev, dc, gx, gh};
  const cudaError_t status = launchPersistentBackward(ctx_.device, p, ld.weights.wHh, reinterpret_cast<const PersistentStep*>(table.data()),
                                                      T, B, dh, partials.data(), sync, plan, ctx_.stream);
  if (status != cudaSuccess) {
    cudaGetLastError();  // nothing ran: the caller runs the step loop
    return false;
  }
  return true;
}

void rnnBackwardCuda(const RnnSpec& spec, const RnnIo& io, const RnnGradIo& grads, int device) {
  CudaBackend backend(device);
  try {
    rnnBackward(backend, spec, io, grads);
  } catch (...) {
    cudaStreamSynchronize(context(device).stream);  // leave no work in flight on memory the caller may free
    throw;
  }
  backend.finish();
  if (persistentStepAborted(device)) {
    throw std::runtime_error("CUDA backward: the persistent loop timed out waiting at a grid barrier, so the gradients were discarded "
                             "(a bug: please report it); this process now runs the step-by-step loop on that device instead (NODE_RNN_CUDA_PERSISTENT=0 does so from the start)");
  }
}

}  // namespace rnn::cuda
