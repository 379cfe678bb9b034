#include "cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../core/dropout_mask.h"
#include "bf16_convert.h"
#include "f32_prepack.h"
#include "layer_stack.h"
#include "line_copies.h"
#include "packed_step.h"
#include "recurrence_scratch.h"
#include "simd_level.h"
#include "steps.h"
#include "team_plan.h"
#include "thread_team.h"

extern "C" {
void openblas_set_num_threads(int num_threads);
}

namespace rnn::cpu {

namespace {

std::atomic<int> gNumThreads{1};

// C[M,N] = A[M,K] * B[N,K]^T, row-major; B is a PyTorch weight [out, in].
void gemmNT(int64_t M, int N, int K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (M == 1) {
    // one row is a matrix-vector product; OpenBLAS's sgemm path is slower for it
    cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.f, B, int(ldb), A, 1, 0.f, C, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), N, K, 1.f, A, int(lda), B, int(ldb), 0.f, C, int(ldc));
}

constexpr size_t floats(size_t n) { return n * sizeof(float); }

// LSTM input projection inside each step's kernel (W_ih is then read from the panels once per step, and no
// [rows, 4H] projection goes through memory) while the packed weights stay in cache and a step has rows enough
// to reuse them; otherwise (measured: batch 1, H = 1024) the projection of all steps first (packedProjection, or
// OpenBLAS below AVX-512) and only W_hh in the step's panels.
bool projectionInPanels(int B, int G, int I, int P, int H) { return B >= 4 && fusedPanelsFit(G, I, P, H); }

// LSTM and GRU: the packed-panel kernel (packed_step.h) on the team; member k owns a block of unit groups.
// stream: a layer of a stack run at once (layer_stack.h; one member, forward, batch 1)
void packedRecurrence(const LayerDirection& ld, int blocks, const LayerStream* stream) {
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = ld.weights.wHr != nullptr;
  const bool inPanels = projectionInPanels(B, G, I, P, H);
  const int Ipanel = inPanels ? I : 0;
  const int64_t rows = L.rows;
  const int groups = packedGroups(H), U = packedUnits();  // blocks of units are multiples of 16, so of U
  const std::vector<int> units = blockBounds(H, blocks);
  const std::vector<int> outCols = proj ? blockBounds(P, blocks) : units;

  // The projection with the packed kernel was measured faster than OpenBLAS with AVX-512 only; the plain C++
  // kernel is several times slower than OpenBLAS's own.
  const bool ownProjection = !inPanels && simdLevel() == 2;
  const XgLayout xgLayout = ownProjection ? XgLayout::byGroups(G, rows, U) : XgLayout::byRows(G, H, U);
  // a module made for inference brings its panels packed (f32_prepack.h: every layout this dispatch picks)
  const LayerWeights& w = ld.weights;
  const bool pack = w.prepacked == nullptr;
  const bool team = blocks > 1;
  LineCopy<float> hLined(ld.h, size_t(B) * P, team), cLined(ld.c, size_t(B) * H, team);
  RowCopies<float> out(ld.output, ld.outputStride, rows, B, P, team);
  const auto piece = scratchPieces<10>({floats(inPanels ? 0 : XgLayout::floats(rows, G, groups, U)),
                                       floats(size_t(B) * P),
                                       floats(proj ? size_t(B) * H : 0), floats(pack ? size_t(GH) + H : 0),
                                       floats(pack ? size_t(groups) * panelFloats(ld.kind, Ipanel, P) : 0),
                                       floats(pack ? size_t(groups) * packedBiasFloats() : 0),
                                       floats(pack && ownProjection ? size_t(groups) * panelFloats(ld.kind, I, 0) : 0),
                                       hLined.bytes(), cLined.bytes(), out.bytes()});
  float* xg = reinterpret_cast<float*>(piece[0]);
  float* hSpare = reinterpret_cast<float*>(piece[1]);
  float* hFull = reinterpret_cast<float*>(piece[2]);
  float* bias = reinterpret_cast<float*>(piece[3]);
  float* biasHn = bias + GH;
  const PrepackedView pre = pack ? PrepackedView{} : prepackedView(w.prepacked);
  float* const panelScratch = reinterpret_cast<float*>(piece[4]);
  float* const biasScratch = reinterpret_cast<float*>(piece[5]);
  float* const inputScratch = reinterpret_cast<float*>(piece[6]);
  const float* panels = pack ? panelScratch : inPanels ? pre.fused : pre.hidden;
  const float* packedBias = pack ? biasScratch : pre.bias;
  const float* inputPanels = pack ? inputScratch : pre.input;

  if (pack) sumBiases(ld.kind, w.bIh, w.bHh, H, bias, biasHn);

  // Phase 0 prepares block k: the input projection onto its units' gate columns for all rows (only its rows of
  // W_ih, with the step's own kernel; before the packing, so that the panels are what is in cache when the loop
  // starts) and its panels (unless they came packed). Then per step one phase of cell blocks and, with
  // projections, one of h_r W_hr^T columns.
  const int perStep = proj ? 2 : 1;
  BlockPhases phases(blocks, 1 + T * perStep);
  const SavedPointers& sv = ld.saved;
  float* const hStart = hLined.use(piece[7]);
  float* const c = cLined.use(piece[8]);
  out.use(piece[9]);
  // block k's columns of the input projection for rows [r0, r0 + n) (with the step's own kernel, or OpenBLAS)
  auto project = [&](int k, int64_t r0, int64_t n) {
    const int q0 = units[k] / U, q1 = (units[k + 1] + U - 1) / U;
    if (ownProjection) {
      packedProjection(ProjectionArgs{ld.kind, int(n), I, H, ld.input + r0 * I, I, inputPanels, q0, q1,
                                      xgLayout.at(xg, r0), xgLayout});
    } else if (!inPanels) {
      const int j0 = units[k], width = units[k + 1] - j0;
      for (int g = 0; g < G && width > 0; ++g) {
        const int64_t col = int64_t(g) * H + j0;
        gemmNT(n, width, I, ld.input + r0 * I, I, w.wIh + col * I, I, xg + r0 * GH + col, GH);
      }
    }
  };
  auto work = [&](int phase, int k) {
    if (phase == 0) {
      const int q0 = units[k] / U, q1 = (units[k + 1] + U - 1) / U;
      if (ownProjection && pack) packInputPanels(ld.kind, w.wIh, I, H, q0, q1, inputScratch);
      if (!stream) project(k, 0, rows);
      if (pack) packPanels(ld.kind, w.wIh, Ipanel, w.wHh, P, bias, biasHn, H, q0, q1, panelScratch, biasScratch);
      return;
    }
    const int s = (phase - 1) / perStep;
    const bool projection = (phase - 1) % perStep == 1;
    const int t = ld.reverse ? T - 1 - s : s;
    const int bs = L.batchSizes[t];
    float* hCur = s % 2 == 0 ? hStart : hSpare;
    float* hNext = s % 2 == 0 ? hSpare : hStart;
    auto finish = [&](int c0, int c1) {
      const size_t bytes = sizeof(float) * (c1 - c0);
      for (int b = bs; b < B; ++b) std::memcpy(hNext + int64_t(b) * P + c0, hCur + int64_t(b) * P + c0, bytes);
      for (int b = 0; b < bs; ++b) {
        std::memcpy(out.data + L.row(t, b) * out.stride + c0, hNext + int64_t(b) * P + c0, bytes);
      }
    };
    auto saveRows = [&](float* dst, const float* src, int64_t width, int c0, int c1) {
      for (int b = 0; b < bs; ++b) {
        std::memcpy(dst + L.row(t, b) * width + c0, src + int64_t(b) * width + c0, sizeof(float) * (c1 - c0));
      }
    };
    if (projection) {
      const int p0 = outCols[k], width = outCols[k + 1] - p0;
      if (width == 0) return;
      if (sv.gates) saveRows(sv.hPrev, hCur, P, p0, p0 + width);
      gemmNT(bs, width, H, hFull, H, w.wHr + int64_t(p0) * H, H, hNext + p0, P);
      finish(p0, p0 + width);
      if (stream) stream->done->publish(s + 1);
      return;
    }
    const int j0 = units[k], j1 = units[k + 1];
    if (j1 == j0) return;
    if (stream && s % kStreamChunk == 0) {
      // the next chunk's input projection, once the layer below has written its rows (step s is row s)
      const int n = std::min(kStreamChunk, T - s);
      if (stream->below) stream->below->awaitAtLeast(s + n);
      project(k, s, n);
    }
    if (sv.gates) {
      if (!proj) saveRows(sv.hPrev, hCur, P, j0, j1);
      if (sv.cPrev) saveRows(sv.cPrev, c, H, j0, j1);
    }
    packedStep(PackedStepArgs{ld.kind, bs, Ipanel, P, H, ld.input + L.rowBase[t] * I, L.strideB * I,
                              inPanels ? nullptr : xgLayout.at(xg, L.rowBase[t]), xgLayout.rowsEvery(L.strideB),
                              hCur, panels, packedBias,
                              j0 / U, (j1 + U - 1) / U, c, proj ? hFull : hNext, proj ? H : P,
                              sv.gates ? sv.gates + L.rowBase[t] * sv.blocks * H : nullptr, L.strideB * sv.blocks * H});
    if (sv.hFull) saveRows(sv.hFull, hFull, H, j0, j1);
    if (!proj) {
      finish(j0, j1);
      if (stream) stream->done->publish(s + 1);
    }
  };
  runTeam(blocks, [&](int rank, int size, SpinBarrier&) { phases.run(rank, size, work); });
  // after T steps h is in hStart again when T is even
  if (T % 2 == 1) std::memcpy(hStart, hSpare, sizeof(float) * size_t(B) * P);
  hLined.copyBack();
  cLined.copyBack();
  out.copyBack();
}

// LSTM and GRU for one step of one row (a decoder's step, a streaming session fed a step at a time): packing the
// weights into panels reads and writes them all once per call, which pays only when steps read the panels again
// and again; here two matrix-vector products read the weights as they are, and the cell runs on the gate sums.
// Measured (LSTM 1 x 1 x 256, a call from Node): 108 -> 60 us; ONNX Runtime 47 us in the bench. Two steps or two
// rows were slower this way than packed (124 vs 79 us, 179 vs 101 us: OpenBLAS's GEMM for 2 rows packs too).
void oneStepRecurrence(const LayerDirection& ld) {
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = ld.weights.wHr != nullptr;
  const int64_t row = ld.layout->row(0, 0);
  const auto piece = scratchPieces<5>({floats(GH), floats(GH), floats(P), floats(proj ? H : 0), floats(size_t(GH) + H)});
  float* xg = reinterpret_cast<float*>(piece[0]);
  float* hg = reinterpret_cast<float*>(piece[1]);
  float* hNew = reinterpret_cast<float*>(piece[2]);
  float* hFull = reinterpret_cast<float*>(piece[3]);
  float* bias = reinterpret_cast<float*>(piece[4]);
  float* biasHn = bias + GH;

  const LayerWeights& w = ld.weights;
  sumBiases(ld.kind, w.bIh, w.bHh, H, bias, biasHn);

  const SavedPointers& sv = ld.saved;
  if (sv.gates) {
    std::memcpy(sv.hPrev + row * P, ld.h, sizeof(float) * P);
    if (sv.cPrev) std::memcpy(sv.cPrev + row * H, ld.c, sizeof(float) * H);
  }
  const PackedStepArgs cell{ld.kind, 1, 0, P, H, nullptr, 0, nullptr, XgLayout{}, ld.h, nullptr, nullptr, 0, 0,
                            ld.c, proj ? hFull : hNew, proj ? H : P,
                            sv.gates ? sv.gates + row * sv.blocks * H : nullptr, sv.blocks * H};
  // Each block of units: its rows of both products (every gate's), then its cells. The weights are read once,
  // so the step is as fast as the memory behind them: more members read them faster.
  const int blocks = oneStepTeamSize(G, I, P, H);
  const std::vector<int> units = blockBounds(H, blocks);
  runTeam(blocks, [&](int rank, int size, SpinBarrier&) {
    for (int k = rank; k < blocks; k += size) {  // all blocks, when fewer threads could start
      const int j0 = units[k], width = units[k + 1] - j0;
      if (width == 0) continue;
      for (int g = 0; g < G; ++g) {
        const int64_t col = int64_t(g) * H + j0;
        gemmNT(1, width, I, ld.input + row * I, I, w.wIh + col * I, I, xg + col, GH);
        gemmNT(1, width, P, ld.h, P, w.wHh + col * P, P, hg + col, GH);
      }
      gateSumsStep(cell, GateSumsArgs{xg, GH, hg, GH, bias, biasHn, j0, j0 + width});
    }
  });
  oneStepEnded();
  if (proj) {
    if (sv.hFull) std::memcpy(sv.hFull + row * H, hFull, sizeof(float) * H);
    gemmNT(1, P, H, hFull, H, w.wHr, H, hNew, P);
  }
  std::memcpy(ld.h, hNew, sizeof(float) * P);
  std::memcpy(ld.output + row * ld.outputStride, hNew, sizeof(float) * P);
}

// Elman RNN (one gate, no projections): one GEMM for the input projection of all steps, then per step one
// OpenBLAS GEMM for the member's columns of h W_hh^T and the fused step; W_hh's rows of a block of units are
// already contiguous.
void elmanRecurrence(const LayerDirection& ld, int blocks) {
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, I = ld.inputSize;
  const int64_t rows = L.rows;
  const std::vector<int> units = blockBounds(H, blocks);

  // Nothing is allocated in the loop.
  const bool team = blocks > 1;
  LineCopy<float> hLined(ld.h, size_t(B) * H, team);
  RowCopies<float> out(ld.output, ld.outputStride, rows, B, H, team);
  const auto piece = scratchPieces<6>({floats(size_t(rows) * H), floats(size_t(B) * H), floats(size_t(B) * H), floats(H),
                                       hLined.bytes(), out.bytes()});
  float* xg = reinterpret_cast<float*>(piece[0]);
  float* hg = reinterpret_cast<float*>(piece[1]);
  float* hSpare = reinterpret_cast<float*>(piece[2]);
  float* bias = reinterpret_cast<float*>(piece[3]);

  const LayerWeights& w = ld.weights;
  sumBiases(ld.kind, w.bIh, w.bHh, H, bias, nullptr);

  // Phase 0: block k's columns of the input projection, one GEMM over all rows; then one phase per step.
  BlockPhases phases(blocks, 1 + T);
  const SavedPointers& sv = ld.saved;
  float* const hStart = hLined.use(piece[4]);
  out.use(piece[5]);
  auto work = [&](int phase, int k) {
    const int j0 = units[k], width = units[k + 1] - j0;
    if (phase == 0) {
      gemmNT(rows, width, I, ld.input, I, w.wIh + int64_t(j0) * I, I, xg + j0, H);
      return;
    }
    const int s = phase - 1;
    const int t = ld.reverse ? T - 1 - s : s;
    const int bs = L.batchSizes[t];
    float* hCur = s % 2 == 0 ? hStart : hSpare;
    float* hNext = s % 2 == 0 ? hSpare : hStart;
    if (width == 0) return;
    if (sv.gates) {
      for (int b = 0; b < bs; ++b) {
        std::memcpy(sv.hPrev + L.row(t, b) * H + j0, hCur + int64_t(b) * H + j0, sizeof(float) * width);
      }
    }
    gemmNT(bs, width, H, hCur, H, w.wHh + int64_t(j0) * H, H, hg + j0, H);
    rnnStep(StepArgs{ld.kind, bs, width, xg + L.rowBase[t] * H + j0, L.strideB * H, hg + j0, H, bias + j0,
                     nullptr, hCur + j0, hNext + j0, H, nullptr, H,
                     sv.gates ? sv.gates + L.rowBase[t] * sv.blocks * H + j0 : nullptr, L.strideB * sv.blocks * H, H});
    // inactive rows carry their h over; active rows go to the output
    const size_t bytes = sizeof(float) * width;
    for (int b = bs; b < B; ++b) std::memcpy(hNext + int64_t(b) * H + j0, hCur + int64_t(b) * H + j0, bytes);
    for (int b = 0; b < bs; ++b) {
      std::memcpy(out.data + L.row(t, b) * out.stride + j0, hNext + int64_t(b) * H + j0, bytes);
    }
  };
  runTeam(blocks, [&](int rank, int size, SpinBarrier&) { phases.run(rank, size, work); });
  // after T steps h is in hStart again when T is even
  if (T % 2 == 1) std::memcpy(hStart, hSpare, sizeof(float) * size_t(B) * H);
  hLined.copyBack();
  out.copyBack();
}

// One layer-direction on `blocks` members, by cell and shape.
void recurrenceOn(const LayerDirection& ld, int blocks) {
  const SeqLayout& L = *ld.layout;
  if (ld.kind == CellKind::Lstm || ld.kind == CellKind::Gru) {
    if (L.batchSizes.size() == 1 && L.batchSizes[0] == 1) return oneStepRecurrence(ld);
    return packedRecurrence(ld, blocks, nullptr);
  }
  elmanRecurrence(ld, blocks);
}

// A layer's weights (inputs of up to `layerInput` columns beyond the first layer's) within kStackWeightBytes, and a
// team's worth of work a step.
bool aloneOnCore(const RnnSpec& spec, int layerInput) {
  const int G = spec.gates(), H = spec.hiddenSize, P = spec.outSize();
  const int64_t bytes = int64_t(sizeof(float)) * G * H * (std::max(spec.inputSize, layerInput) + P);
  return spec.batch == 1 && bytes <= kStackWeightBytes &&
         teamSizeFor(spec.seqLen, 1, G * H, P, H, kForwardMinWork) >= 2;
}

}  // namespace

void CpuBackend::recurrence(const LayerDirection& ld) {
  const SeqLayout& L = *ld.layout;
  const int H = ld.hiddenSize;
  recurrenceOn(ld, teamSizeFor(int(L.batchSizes.size()), L.batchSizes[0], gateCount(ld.kind) * H, ld.outSize, H,
                               kForwardMinWork));
}

bool CpuBackend::stacksLayers(const RnnSpec& spec) const {
  const bool packed = spec.kind == CellKind::Lstm || spec.kind == CellKind::Gru;
  return packed && aloneOnCore(spec, spec.outSize());
}

bool CpuBackend::pairsDirections(const RnnSpec& spec) const { return aloneOnCore(spec, 2 * spec.outSize()); }

void CpuBackend::recurrencePair(const LayerDirection& forward, const LayerDirection& reverse) {
  runDirectionPair(forward, reverse, [](const LayerDirection& ld) { recurrenceOn(ld, 1); });
}

void CpuBackend::recurrenceStack(const std::vector<LayerDirection>& layers) {
  runLayerStack(layers, getNumThreads(),
                [](const LayerDirection& ld, const LayerStream& s) { packedRecurrence(ld, 1, &s); });
}

void CpuBackend::convert(void* dst, ElemType dstType, const void* src, ElemType srcType, size_t n) {
  if (dstType == srcType) std::memmove(dst, src, n * elemSize(srcType));
  else if (srcType == ElemType::F32 && dstType == ElemType::BF16) floatsToBf16(static_cast<const float*>(src), static_cast<uint16_t*>(dst), n);
  else if (srcType == ElemType::BF16 && dstType == ElemType::F32) bf16ToFloats(static_cast<const uint16_t*>(src), static_cast<float*>(dst), n);
  else throw std::logic_error(std::string("CPU: no conversion from ") + elemName(srcType) + " to " + elemName(dstType));
}

void CpuBackend::dropout(float* data, size_t n, float p, uint64_t seed) {
  const float scale = dropoutScale(p);
  for (size_t i = 0; i < n; ++i) data[i] = dropoutDrops(seed, i, p) ? 0.f : data[i] * scale;
}

void rnnForwardCpu(const RnnSpec& spec, const RnnIo& io) {
  CpuBackend backend;
  rnnForward(backend, spec, io);
}

void setNumThreads(int n) {
  gNumThreads = n;
  // Parallelism comes from the team; OpenBLAS threads would compete with it for the same cores.
  openblas_set_num_threads(1);
}

int getNumThreads() { return gNumThreads.load(); }

}  // namespace rnn::cpu
