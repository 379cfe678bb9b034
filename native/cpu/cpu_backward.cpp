// The CPU reverse loop of one layer-direction: per step (in reverse processing order) the fused
// element-wise backward and one GEMM for dL/dh_{t-1}; then the weight gradients as a few large GEMMs
// over all rows (dW_ih = dG_x^T X, dW_hh = dG_h^T H_prev, biases = column sums) and dX = dG_x W_ih.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cell_backward.h"
#include "cpu_backend.h"

namespace rnn::cpu {

namespace {

// C[M,N] = A[M,K] B[K,N] + beta C (row-major)
void gemmNN(int64_t M, int N, int K, const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), N, K, 1.f, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

// C[M,N] += A[K,M]^T B[K,N] (row-major): a sum over the K rows
void gemmTN(int M, int N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc) {
  if (K <= 0) return;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, int(K), 1.f, A, int(lda), B, int(ldb), 1.f, C, int(ldc));
}

void columnSums(const float* A, int64_t rows, int cols, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = A + r * cols;
    for (int c = 0; c < cols; ++c) out[c] += row[c];
  }
}

}  // namespace

void CpuBackend::recurrenceBackward(const LayerDirectionGrad& ld) {
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = ld.weights.wHr != nullptr, gru = ld.kind == CellKind::Gru, lstm = ld.kind == CellKind::Lstm;
  const int64_t rows = L.rows;
  const int S = ld.saved.blocks;

  std::vector<float> gx(size_t(rows) * GH), ghGru(gru ? size_t(rows) * GH : 0), dhRows(proj ? size_t(rows) * P : 0);
  std::vector<float> dh(size_t(B) * P), dc(lstm ? size_t(B) * H : 0), dhFull(proj ? size_t(B) * H : 0);
  std::vector<float> dPrev(size_t(B) * P), direct(gru ? size_t(B) * H : 0);
  float* gh = gru ? ghGru.data() : gx.data();
  if (ld.gradHN) std::copy(ld.gradHN, ld.gradHN + size_t(B) * P, dh.begin());
  if (lstm && ld.gradCN) std::copy(ld.gradCN, ld.gradCN + size_t(B) * H, dc.begin());

  for (int s = T - 1; s >= 0; --s) {
    const int t = ld.reverse ? T - 1 - s : s;
    const int bs = L.batchSizes[t];
    const int64_t base = L.rowBase[t], rowStride = L.strideB;
    if (ld.gradOutput) {
      for (int b = 0; b < bs; ++b) {
        const float* g = ld.gradOutput + L.row(t, b) * ld.gradOutputStride;
        float* d = dh.data() + int64_t(b) * P;
        for (int k = 0; k < P; ++k) d[k] += g[k];
      }
    }
    const float* gradH = dh.data();
    int64_t gradHStride = P;
    if (proj) {
      for (int b = 0; b < bs; ++b) std::memcpy(dhRows.data() + L.row(t, b) * P, dh.data() + int64_t(b) * P, sizeof(float) * P);
      gemmNN(bs, H, P, dh.data(), P, ld.weights.wHr, H, 0.f, dhFull.data(), H);
      gradH = dhFull.data();
      gradHStride = H;
    }
    cellBackward(StepGradArgs{ld.kind, bs, H, gradH, gradHStride, ld.saved.gates + base * S * H, rowStride * S * H,
                              ld.saved.hPrev + base * P, rowStride * P,
                              lstm ? ld.saved.cPrev + base * H : nullptr, rowStride * H,
                              lstm ? dc.data() : nullptr, gx.data() + base * GH, gh + base * GH, rowStride * GH,
                              gru ? direct.data() : nullptr});
    // dL/dh_{t-1} of the active rows; inactive rows carry their gradient unchanged, as forward carried h
    gemmNN(bs, P, GH, gh + base * GH, rowStride * GH, ld.weights.wHh, P, 0.f, dPrev.data(), P);
    if (gru) {
      for (int64_t k = 0; k < int64_t(bs) * H; ++k) dPrev[k] += direct[k];
    }
    std::memcpy(dh.data(), dPrev.data(), sizeof(float) * size_t(bs) * P);
  }
  if (ld.gradH0) std::copy(dh.begin(), dh.end(), ld.gradH0);
  if (lstm && ld.gradC0) std::copy(dc.begin(), dc.end(), ld.gradC0);

  gemmTN(GH, I, rows, gx.data(), GH, ld.input, I, ld.grads.wIh, I);
  gemmTN(GH, P, rows, gh, GH, ld.saved.hPrev, P, ld.grads.wHh, P);
  if (ld.grads.bIh) {
    columnSums(gx.data(), rows, GH, ld.grads.bIh);
    columnSums(gh, rows, GH, ld.grads.bHh);
  }
  if (proj) gemmTN(P, H, rows, dhRows.data(), P, ld.saved.hFull, H, ld.grads.wHr, H);
  gemmNN(rows, I, GH, gx.data(), GH, ld.weights.wIh, I, ld.accumulateInput ? 1.f : 0.f, ld.gradInput, I);
}

void rnnBackwardCpu(const RnnSpec& spec, const RnnIo& io, const RnnGradIo& g) {
  CpuBackend backend;
  rnnBackward(backend, spec, io, g);
}

}  // namespace rnn::cpu
