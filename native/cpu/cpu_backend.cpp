#include "cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "../core/rnn_driver.h"
#include "steps.h"

extern "C" {
void openblas_set_num_threads(int num_threads);
}

namespace rnn::cpu {

namespace {
std::atomic<int> gNumThreads{0};
}

float* CpuBackend::workspace(size_t n) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

void CpuBackend::gemmNT(int64_t M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  if (M == 1) {
    // a single row is a matrix-vector product; OpenBLAS's sgemm path is slower for it
    cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.f, B, ldb, A, 1, 0.f, C, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc);
}

void CpuBackend::step(const StepArgs& args) {
  switch (args.kind) {
    case CellKind::Lstm: lstmStep(args); break;
    case CellKind::Gru: gruStep(args); break;
    default: rnnStep(args); break;
  }
}

void CpuBackend::combineBias(CellKind kind, const float* bIh, const float* bHh, int H, float* dst) {
  const int GH = gateCount(kind) * H;
  const int summed = kind == CellKind::Gru ? 2 * H : GH;
  for (int j = 0; j < summed; ++j) dst[j] = bIh[j] + bHh[j];
  if (kind == CellKind::Gru) {
    std::memcpy(dst + 2 * H, bIh + 2 * H, sizeof(float) * H);
    std::memcpy(dst + GH, bHh + 2 * H, sizeof(float) * H);
  }
}

void CpuBackend::copy(float* dst, const float* src, size_t n) { std::memmove(dst, src, n * sizeof(float)); }

void CpuBackend::zero(float* dst, size_t n) { std::fill(dst, dst + n, 0.f); }

void CpuBackend::scatterRows(float* dst, int64_t dstStride, const float* src, int rows, int cols) {
  for (int r = 0; r < rows; ++r) std::memcpy(dst + r * dstStride, src + size_t(r) * cols, sizeof(float) * cols);
}

// Counter-based (splitmix64 of seed and index), so a mask depends only on the seed, not on threading.
void CpuBackend::dropout(float* data, size_t n, float p, uint64_t seed) {
  const float scale = p >= 1.f ? 0.f : 1.f / (1.f - p);
  for (size_t i = 0; i < n; ++i) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = float(z >> 40) * (1.f / 16777216.f);
    data[i] = u < p ? 0.f : data[i] * scale;
  }
}

void rnnForwardCpu(const RnnSpec& spec, const RnnIo& io) {
  CpuBackend backend;
  rnnForward(backend, spec, io);
}

void setNumThreads(int n) {
  gNumThreads = n;
  openblas_set_num_threads(n);
}

int getNumThreads() { return gNumThreads.load(); }

}  // namespace rnn::cpu
