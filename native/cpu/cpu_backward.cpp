// The CPU reverse loop of one layer-direction: per step (in reverse processing order) the fused
// element-wise backward and one GEMM for dL/dh_{t-1}; then the weight gradients as a few large GEMMs
// over all rows (dW_ih = dG_x^T X, dW_hh = dG_h^T H_prev, biases = column sums) and dX = dG_x W_ih.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>


#include "cell_backward.h"
#include "recurrence_scratch.h"
#include "cpu_backend.h"
#include "team_plan.h"
#include "thread_team.h"

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

}  // namespace

void CpuBackend::recurrenceBackward(const LayerDirectionGrad& ld) {
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = ld.weights.wHr != nullptr, gru = ld.kind == CellKind::Gru, lstm = ld.kind == CellKind::Lstm;
  const int64_t rows = L.rows;
  const int S = ld.saved.blocks;
  // The same team as forward: member k owns a block of units (element-wise backward) and a block of
  // h columns (the per-step GEMM for dL/dh_{t-1}); two barriers per step.
  const int blocks = teamSizeFor(T, B, GH, P, H);
  const std::vector<int> units = blockBounds(H, blocks);
  const std::vector<int> cols = proj ? blockBounds(P, blocks) : units;

  // The gate gradients of every row (26 MB at 100 x 64, H = 256, LSTM) come from the thread's scratch, kept between
  // calls and not zeroed: every step writes all gate columns of its rows before the GEMMs below read them (a
  // fresh zeroed vector per call cost a memset and a page fault per 4 KB in every backward).
  const auto piece = scratchPieces<3>({sizeof(float) * size_t(rows) * GH, sizeof(float) * (gru ? size_t(rows) * GH : 0),
                                       sizeof(float) * (proj ? size_t(rows) * P : 0)});
  float* const gxRows = reinterpret_cast<float*>(piece[0]);
  float* const dhRows = reinterpret_cast<float*>(piece[2]);
  std::vector<float> dh(size_t(B) * P), dc(lstm ? size_t(B) * H : 0), dhFull(proj ? size_t(B) * H : 0);
  std::vector<float> direct(gru ? size_t(B) * H : 0);
  float* gh = gru ? reinterpret_cast<float*>(piece[1]) : gxRows;
  if (ld.gradHN) std::copy(ld.gradHN, ld.gradHN + size_t(B) * P, dh.begin());
  if (lstm && ld.gradCN) std::copy(ld.gradCN, ld.gradCN + size_t(B) * H, dc.begin());

  runTeam(blocks, [&](int rank, int size, SpinBarrier& barrier) {
    for (int s = T - 1; s >= 0; --s) {
      const int t = ld.reverse ? T - 1 - s : s;
      const int bs = L.batchSizes[t];
      const int64_t base = L.rowBase[t], rowStride = L.strideB;
      for (int k = rank; k < blocks; k += size) {
        const int c0 = cols[k], c1 = cols[k + 1];
        for (int b = 0; b < bs; ++b) {
          float* d = dh.data() + int64_t(b) * P;
          if (ld.gradOutput) {
            const float* g = ld.gradOutput + L.row(t, b) * ld.gradOutputStride;
            for (int c = c0; c < c1; ++c) d[c] += g[c];
          }
          if (proj) std::memcpy(dhRows + L.row(t, b) * P + c0, d + c0, sizeof(float) * (c1 - c0));
        }
      }
      if (proj) barrier.wait();  // dh -> dh W_hr needs every column of dh
      for (int k = rank; k < blocks; k += size) {
        const int j0 = units[k], width = units[k + 1] - j0;
        if (width == 0) continue;
        const float* gradH = dh.data() + j0;
        int64_t gradHStride = P;
        if (proj) {
          gemmNN(bs, width, P, dh.data(), P, ld.weights.wHr + j0, H, 0.f, dhFull.data() + j0, H);
          gradH = dhFull.data() + j0;
          gradHStride = H;
        }
        cellBackward(StepGradArgs{ld.kind, bs, width, H, gradH, gradHStride, ld.saved.gates + base * S * H + j0,
                                  rowStride * S * H, ld.saved.hPrev + base * P + j0, rowStride * P,
                                  lstm ? ld.saved.cPrev + base * H + j0 : nullptr, rowStride * H,
                                  lstm ? dc.data() + j0 : nullptr, gxRows + base * GH + j0, gh + base * GH + j0,
                                  rowStride * GH, gru ? direct.data() + j0 : nullptr});
      }
      barrier.wait();  // the GEMM below reads every gate column of the step
      // dL/dh_{t-1} of the active rows; inactive rows keep their gradient, as forward kept their h
      for (int k = rank; k < blocks; k += size) {
        const int c0 = cols[k], width = cols[k + 1] - c0;
        if (width == 0) continue;
        gemmNN(bs, width, GH, gh + base * GH, rowStride * GH, ld.weights.wHh + c0, P, 0.f, dh.data() + c0, P);
        if (gru) {
          for (int b = 0; b < bs; ++b) {
            for (int c = c0; c < c0 + width; ++c) dh[int64_t(b) * P + c] += direct[int64_t(b) * H + c];
          }
        }
      }
      barrier.wait();
    }

    // Weight gradients and dX: large GEMMs over all rows, split between the members.
    int r0, r1;
    shareOf(GH, rank, size, 16, r0, r1);
    if (r1 > r0) {
      gemmTN(r1 - r0, I, rows, gxRows + r0, GH, ld.input, I, ld.grads.wIh + int64_t(r0) * I, I);
      gemmTN(r1 - r0, P, rows, gh + r0, GH, ld.saved.hPrev, P, ld.grads.wHh + int64_t(r0) * P, P);
      if (ld.grads.bIh) {
        for (int64_t r = 0; r < rows; ++r) {
          const float* x = gxRows + r * GH;
          const float* y = gh + r * GH;
          for (int c = r0; c < r1; ++c) {
            ld.grads.bIh[c] += x[c];
            ld.grads.bHh[c] += y[c];
          }
        }
      }
    }
    if (proj) {
      shareOf(P, rank, size, 16, r0, r1);
      if (r1 > r0) gemmTN(r1 - r0, H, rows, dhRows + r0, P, ld.saved.hFull, H, ld.grads.wHr + int64_t(r0) * H, H);
    }
    int64_t share = (rows + size - 1) / size, x0 = std::min(rows, rank * share), x1 = std::min(rows, x0 + share);
    if (x1 > x0 && ld.gradInput) {
      gemmNN(x1 - x0, I, GH, gxRows + x0 * GH, GH, ld.weights.wIh, I, ld.accumulateInput ? 1.f : 0.f,
             ld.gradInput + x0 * I, I);
    }
  });
  if (ld.gradH0) std::copy(dh.begin(), dh.end(), ld.gradH0);
  if (lstm && ld.gradC0) std::copy(dc.begin(), dc.end(), ld.gradC0);
}

void rnnBackwardCpu(const RnnSpec& spec, const RnnIo& io, const RnnGradIo& g) {
  CpuBackend backend;
  rnnBackward(backend, spec, io, g);
}

}  // namespace rnn::cpu
