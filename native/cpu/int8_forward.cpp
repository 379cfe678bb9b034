#include "int8_forward.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu_backend.h"
#include "int8_step.h"
#include "layer_stack.h"
#include "line_copies.h"
#include "recurrence_scratch.h"
#include "team_plan.h"
#include "thread_team.h"

namespace rnn::cpu {

namespace {

const uint8_t* bytes(const float* p) { return reinterpret_cast<const uint8_t*>(p); }

using Int8Direction = LayerDirectionOf<float, WeightsOf<uint8_t, float>>;

// The driver's backend for int8: float32 activations and states, packed int8 weight matrices (float32 biases).
class Int8Backend : public CpuBackend {
 public:
  using Weights = WeightsOf<uint8_t, float>;
  explicit Int8Backend(const RnnSpec& spec)
      : blocks_(teamSizeFor(spec.seqLen, spec.batch, spec.gates() * spec.hiddenSize, spec.outSize(), spec.hiddenSize, kForwardMinWork)) {}
  void recurrence(const Int8Direction& ld) { run(ld, blocks_, nullptr, true); }

  // A unidirectional stack at batch 1 on two members runs its layers at once, and a bidirectional layer its two
  // directions, one member each (layer_stack.h), when a layer's W_ih and W_hh fit a core's L2 together (H 256 at
  // I = H: 256 KB each).
  bool stacksLayers(const RnnSpec& spec) const { return aloneOnCore(spec, spec.outSize()); }
  void recurrenceStack(const std::vector<Int8Direction>& layers) {
    runLayerStack(layers, getNumThreads(),
                  [&](const Int8Direction& ld, const LayerStream& s) { run(ld, 1, &s, false); });
  }
  bool pairsDirections(const RnnSpec& spec) const { return aloneOnCore(spec, 2 * spec.outSize()); }
  void recurrencePair(const Int8Direction& forward, const Int8Direction& reverse) {
    runDirectionPair(forward, reverse, [&](const Int8Direction& ld) { run(ld, 1, nullptr, false); });
  }

 private:
  // One layer-direction on `blocks` members. stream: a layer of a stack run at once. shareInput: the layer input's
  // quantized rows are kept for the other direction (not while the directions run at once).
  void run(const Int8Direction& ld, int blocks, const LayerStream* stream, bool shareInput);
  // Whether the members split the batch's rows rather than the hidden units: then each member streams all the
  // recurrent and input weights every step (the input projection runs in the step's tiles), which pays while they
  // are about a member's L2, and saves the hand-over of h per step, whose cost between these two vCPUs is large
  // (a round trip ~0.46 us). Measured (2 members, int8, 100 steps, rows vs unit blocks): LSTM H 256 batch 4 1.13x,
  // batch 8 1.24x, batch 12 1.25x (GRU batch 8 1.34x), batch 2 0.89x; H 512 batch 8-16 1.00-1.03x, 32-64
  // 1.03-1.06x; H 1024 (4 MB of W_hh) stays on unit blocks.
  // a layer's weights (inputs of up to `layerInput` columns beyond the first layer's) within kStackWeightBytes
  bool aloneOnCore(const RnnSpec& spec, int layerInput) const {
    const int64_t bytes = int64_t(spec.gates()) * spec.hiddenSize *
                          (int8RowBytes(std::max(spec.inputSize, layerInput)) + int8RowBytes(spec.outSize()));
    return blocks_ >= 2 && spec.batch == 1 && bytes <= kStackWeightBytes;
  }
  static bool byRows(const Int8Direction& ld, int blocks) {
    const int64_t bytes = int64_t(gateCount(ld.kind)) * ld.hiddenSize * int8RowBytes(ld.outSize);
    return blocks >= 2 && bytes <= (1536 << 10) && ld.layout->batchSizes[0] >= 2 * blocks;
  }

  int blocks_;
  const float* quantized_ = nullptr;  // the layer input whose rows are quantized now
};

// The input projection of a chunk of steps is kept in cache between its GEMM and its steps (about 512 KB of
// float32 gate sums), instead of going through memory for the whole sequence.
int chunkSteps(int T, int B, int GH) {
  const int64_t perStep = int64_t(B) * GH * int64_t(sizeof(float));
  return int(std::max<int64_t>(1, std::min<int64_t>(T, (512 << 10) / perStep)));
}

// The layer input's rows quantized once for both directions, on the team.
void quantizeInput(const float* x, int64_t rows, int K, uint8_t* q, float* scales, int members) {
  const int64_t rowBytes = int8RowBytes(K);
  const int n = int(std::min<int64_t>(members, std::max<int64_t>(1, rows / 64)));
  runTeam(n, [&](int rank, int size, SpinBarrier&) {
    const int64_t chunk = (rows + size - 1) / size, r0 = std::min(rows, rank * chunk), r1 = std::min(rows, r0 + chunk);
    int8QuantizeRows(Int8QuantizeArgs{x + r0 * K, K, r1 - r0, K, q + r0 * rowBytes, rowBytes, scales + r0, 1});
  });
}

// One layer-direction on the team: member k owns a block of unit groups (and, with projections, of output
// columns). Per step one phase of cell blocks and, with projections, one of h_r W_hr^T columns. Every block
// quantizes the whole previous h itself (each needs all of it, and the scale of a row depends on all its columns),
// which costs far less than a phase more per step.
void Int8Backend::run(const Int8Direction& ld, const int blocks, const LayerStream* stream, const bool shareInput) {
  const WeightsOf<uint8_t, float>& w = ld.weights;
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = w.wHr != nullptr, gru = ld.kind == CellKind::Gru;
  const int U = int8Units();
  const std::vector<int> units = blockBounds(H, blocks);  // multiples of 16, so of U
  const std::vector<int> outCols = proj ? blockBounds(P, blocks) : units;
  const Int8Matrix wIh = Int8Matrix::of(w.wIh), wHh = Int8Matrix::of(w.wHh);
  const Int8Matrix wHr = proj ? Int8Matrix::of(w.wHr) : Int8Matrix{};
  const int C = stream ? kStreamChunk : chunkSteps(T, B, GH);
  const int64_t xRow = int8RowBytes(I), hRow = int8RowBytes(std::max(P, H));
  const int64_t scaleRow = (int64_t(B) + 15) / 16 * 16;  // a block's h scales on lines of their own

  // The layer input's rows are quantized once for both directions (the second finds them done). Kept between calls
  // on this thread (the quantized input alone is as large as the weights at batch 64: allocating and faulting it
  // in every call cost more than quantizing it); the team reads them through the pointers below.
  // In a stream each chunk's rows are quantized when the layer below has written them (work, below); with the
  // directions at once each quantizes all rows into its own thread's copy (sharing one, they would race on it).
  thread_local std::vector<uint8_t> inputRows;
  thread_local std::vector<float> inputScales;
  const bool quantizeAll = !stream && (!shareInput || ld.input != quantized_);
  if (stream || quantizeAll) {
    if (inputRows.size() < size_t(L.rows) * xRow) inputRows.resize(size_t(L.rows) * xRow);
    if (inputScales.size() < size_t(L.rows)) inputScales.resize(size_t(L.rows));
  }
  if (quantizeAll) {
    quantizeInput(ld.input, L.rows, I, inputRows.data(), inputScales.data(), blocks);
    if (shareInput) quantized_ = ld.input;
  }
  uint8_t* const xq = inputRows.data();
  float* const xScale = inputScales.data();
  const bool rows = byRows(ld, blocks);
  const bool team = blocks > 1 && !rows;  // rows apart, the members share no line but at their rows' bounds
  LineCopy<float> hLined(ld.h, size_t(B) * P, team), cLined(ld.c, size_t(B) * H, team);
  RowCopies<float> out(ld.output, ld.outputStride, L.rows, B, P, team);
  const auto piece = scratchPieces<9>({
      rows ? 0 : size_t(C) * B * GH * sizeof(float),      // xg: the chunk's input projection (rows apart: none)
      size_t(B) * P * sizeof(float),                      // hSpare
      proj ? size_t(B) * H * sizeof(float) : 0,           // hFull
      size_t(blocks) * B * hRow,                          // hq: each block's quantized h
      size_t(blocks) * scaleRow * sizeof(float),          // hScale
      (size_t(GH) + H) * sizeof(float),                   // the summed biases, b_hn
      hLined.bytes(), cLined.bytes(), out.bytes()});
  float* xg = reinterpret_cast<float*>(piece[0]);
  float* hSpare = reinterpret_cast<float*>(piece[1]);
  float* hFull = reinterpret_cast<float*>(piece[2]);
  uint8_t* hq = piece[3];
  float* hScales = reinterpret_cast<float*>(piece[4]);
  float* biasSums = reinterpret_cast<float*>(piece[5]);
  if (w.bIh) sumBiases(ld.kind, w.bIh, w.bHh, H, biasSums, biasSums + GH);
  const float* const bias = w.bIh ? biasSums : nullptr;
  const float* const biasHn = gru && w.bIh ? biasSums + GH : nullptr;

  const int perStep = proj ? 2 : 1;
  BlockPhases phases(blocks, T * perStep);
  float* const hStart = hLined.use(piece[6]);
  float* const c = cLined.use(piece[7]);
  out.use(piece[8]);
  auto groupsOf = [&](const std::vector<int>& bounds, int k, int& q0, int& q1) {
    q0 = bounds[k] / U;
    q1 = (bounds[k + 1] + U - 1) / U;
  };
  // The first and last time index of the chunk that step s starts, and where step t's rows are in xg.
  auto chunkOf = [&](int s, int& tLo, int& tHi) {
    const int s1 = std::min(T, s + C) - 1;
    tLo = ld.reverse ? T - 1 - s1 : s;
    tHi = ld.reverse ? T - 1 - s : s1;
  };
  auto slotRow = [&](int t, int tLo) { return L.strideB == 1 ? L.rowBase[t] - L.rowBase[tLo] : int64_t(t - tLo) * B; };
  // h_q and scales of `rows` rows of `K` columns into block k's buffers
  auto quantize = [&](const float* src, int64_t stride, int rows, int K, int k) {
    uint8_t* q = hq + size_t(k) * B * hRow;
    float* s = hScales + size_t(k) * scaleRow;
    int8QuantizeRows(Int8QuantizeArgs{src, stride, rows, K, q, hRow, s, 1});
  };
  auto work = [&](int phase, int k) {
    const int s = phase / perStep;
    const bool projection = phase % perStep == 1;
    const int t = ld.reverse ? T - 1 - s : s;
    const int bs = L.batchSizes[t];
    const bool even = s % 2 == 0;
    float* hCur = even ? hStart : hSpare;
    float* hNext = even ? hSpare : hStart;
    // inactive rows carry their state over; active rows go to the output
    auto finish = [&](int c0, int c1) {
      const size_t n = size_t(c1 - c0) * sizeof(float);
      for (int b = bs; b < B; ++b) std::memcpy(hNext + int64_t(b) * P + c0, hCur + int64_t(b) * P + c0, n);
      for (int b = 0; b < bs; ++b) std::memcpy(out.data + L.row(t, b) * out.stride + c0, hNext + int64_t(b) * P + c0, n);
    };
    if (projection) {
      const int p0 = outCols[k], p1 = outCols[k + 1];
      if (p1 == p0) return;
      int q0, q1;
      groupsOf(outCols, k, q0, q1);
      quantize(hFull, H, bs, H, k);
      int8Gemm(Int8GemmArgs{bs, hq + size_t(k) * B * hRow, hRow, hScales + size_t(k) * scaleRow, 1, wHr, q0, q1, nullptr, hNext, P, 0});
      finish(p0, p1);
      if (stream) stream->done->publish(s + 1);
      return;
    }
    const int j0 = units[k], j1 = units[k + 1];
    if (j1 == j0) return;
    int q0, q1;
    groupsOf(units, k, q0, q1);
    int tLo, tHi;
    chunkOf(s - s % C, tLo, tHi);
    if (s % C == 0) {
      if (stream) {
        // the chunk's input rows, once the layer below has written them (a stream runs forward, at batch 1)
        if (stream->below) stream->below->awaitAtLeast(tHi + 1);
        const int64_t r0 = L.rowBase[tLo], n = L.rowBase[tHi] + L.batchSizes[tHi] - r0;
        quantizeInput(ld.input + r0 * I, n, I, xq + r0 * xRow, xScale + r0, 1);
      }
      // this block's columns of the chunk's input projection (with the biases)
      if (L.strideB == 1) {
        const int64_t r0 = L.rowBase[tLo], rows = L.rowBase[tHi] + L.batchSizes[tHi] - r0;
        int8Gemm(Int8GemmArgs{int(rows), xq + r0 * xRow, xRow, xScale + r0, 1, wIh, q0, q1, bias, xg, GH, H});
      } else {
        for (int u = tLo; u <= tHi; ++u) {
          const int64_t r0 = L.rowBase[u];
          int8Gemm(Int8GemmArgs{L.batchSizes[u], xq + r0 * xRow, L.strideB * xRow, xScale + r0, L.strideB, wIh, q0, q1,
                                bias, xg + slotRow(u, tLo) * GH, GH, H});
        }
      }
    }
    quantize(hCur, P, bs, P, k);
    int8Step(Int8StepArgs{ld.kind, bs, H, hq + size_t(k) * B * hRow, hRow, hScales + size_t(k) * scaleRow, wHh, q0, q1,
                          xg + slotRow(t, tLo) * GH, GH, biasHn, hCur, P, c, proj ? hFull : hNext, proj ? H : P});
    if (!proj) {
      finish(j0, j1);
      if (stream) stream->done->publish(s + 1);
    }
  };
  // Rows apart: member k runs the whole sequence for its own rows with every unit group (rows of a batch never
  // meet), so there is no hand-over per step and each row's h is quantized once, not by every member. Its input
  // projection is computed in each step's tiles next to h W_hh^T, so no xg goes through memory (int8 LSTM 100 steps,
  // batch 64: H 256 1.06x, H 512 1.04x, GRU H 256 1.08x; batch 16-32 H 256 1.14-1.16x; same bits). Without
  // packing or projections its h goes straight into its output rows, where the next step reads it, and only the
  // last step's rows are copied to the final state (instead of every step's h copied to the output).
  const bool direct = rows && !proj && L.batchSizes.front() == L.batchSizes.back();
  auto rowsWork = [&](int k) {
    int r0, r1;
    shareOf(B, k, blocks, 1, r0, r1);
    const int groupsH = int8Groups(H), groupsP = int8Groups(P);
    uint8_t* const q = hq + size_t(k) * B * hRow;
    float* const scales = hScales + size_t(k) * scaleRow;
    const float* hRows = hStart + int64_t(r0) * P;  // direct: the previous step's h of this member's rows
    int64_t hRowStride = P;
    for (int s = 0; s < T; ++s) {
      const int t = ld.reverse ? T - 1 - s : s;
      const int n = std::min(L.batchSizes[t], r1) - r0;
      float* hCur = s % 2 == 0 ? hStart : hSpare;
      float* hNext = s % 2 == 0 ? hSpare : hStart;
      // this step's h in (hIn), and where the cell writes its h (hOut: the output rows, hFull or hNext)
      const float* hIn = direct ? hRows : hCur + int64_t(r0) * P;
      const int64_t inStride = direct ? hRowStride : P;
      float* hOut = direct ? ld.output + L.row(t, r0) * ld.outputStride
                    : proj ? hFull + int64_t(r0) * H
                           : hNext + int64_t(r0) * P;
      const int64_t outStride = direct ? L.strideB * ld.outputStride : proj ? H : P;
      if (n > 0) {
        quantize(hIn, inStride, n, P, k);
        // the input projection in the step's tiles (int8_step.h): no xg round trip through memory
        const int64_t x0 = L.row(t, r0);
        const Int8StepInput input{xq + x0 * xRow, L.strideB * xRow, xScale + x0, L.strideB, wIh, bias};
        int8Step(Int8StepArgs{ld.kind, n, H, q, hRow, scales, wHh, 0, groupsH, nullptr, 0, biasHn, hIn, inStride,
                              c + int64_t(r0) * H, hOut, outStride, input});
        if (proj) {
          quantize(hOut, H, n, H, k);
          int8Gemm(Int8GemmArgs{n, q, hRow, scales, 1, wHr, 0, groupsP, nullptr, hNext + int64_t(r0) * P, P, 0});
        }
      }
      if (direct) {
        hRows = hOut;
        hRowStride = outStride;
        continue;
      }
      const size_t rowBytes = size_t(P) * sizeof(float);
      for (int b = r0; b < r1; ++b) {
        if (b < r0 + n) {
          std::memcpy(ld.output + L.row(t, b) * ld.outputStride, hNext + int64_t(b) * P, rowBytes);
        } else {
          std::memcpy(hNext + int64_t(b) * P, hCur + int64_t(b) * P, rowBytes);
        }
      }
    }
    if (direct) {
      for (int b = r0; b < r1; ++b) std::memcpy(hStart + int64_t(b) * P, hRows + (b - r0) * hRowStride, sizeof(float) * P);
    }
  };
  if (rows) {
    runTeam(blocks, [&](int rank, int, SpinBarrier&) { rowsWork(rank); });
  } else {
    runTeam(blocks, [&](int rank, int size, SpinBarrier&) { phases.run(rank, size, work); });
  }
  // after T steps the state is in hStart again when T is even
  if (!direct && T % 2 == 1) std::memcpy(hStart, hSpare, sizeof(float) * size_t(B) * P);
  hLined.copyBack();
  cLined.copyBack();
  out.copyBack();
}

}  // namespace

std::string int8WeightsError(const RnnSpec& spec, const RnnIo& io) {
  const int H = spec.hiddenSize, P = spec.outSize(), G = spec.gates();
  size_t w = 0;
  for (int l = 0; l < spec.numLayers; ++l) {
    for (int d = 0; d < spec.directions(); ++d) {
      const FloatSpan& ih = io.weights[w++];
      const FloatSpan& hh = io.weights[w++];
      std::string err = int8PackedError(bytes(ih.data), ih.size, G, H, spec.layerInputSize(l));
      if (err.empty()) err = int8PackedError(bytes(hh.data), hh.size, G, H, P);
      if (spec.bias) w += 2;
      if (err.empty() && spec.projSize > 0) {
        const FloatSpan& hr = io.weights[w++];
        err = int8PackedError(bytes(hr.data), hr.size, 1, P, H);
      }
      if (!err.empty()) return "native check: " + err;
    }
  }
  return "";
}

void rnnForwardCpuInt8(const RnnSpec& spec, const RnnIo& io) {
  Int8Backend backend(spec);
  rnnForward(backend, spec, io);
}

void int8Linear(const uint8_t* packed, const float* bias, const float* x, int64_t rows, int K, int N, float* out) {
  const Int8Matrix w = Int8Matrix::of(packed);
  const int64_t rowBytes = int8RowBytes(K);
  std::vector<uint8_t> q(size_t(rows) * rowBytes);
  std::vector<float> scales(static_cast<size_t>(rows));
  const int groups = int8Groups(N);
  // one member per share of unit groups, when there is work enough to hand over
  const int members = rows * int64_t(N) * K >= (int64_t(1) << 20) ? std::max(1, std::min(getNumThreads(), groups)) : 1;
  quantizeInput(x, rows, K, q.data(), scales.data(), members);
  runTeam(members, [&](int rank, int size, SpinBarrier&) {
    int q0, q1;
    shareOf(groups, rank, size, 1, q0, q1);
    if (q1 > q0) int8Gemm(Int8GemmArgs{int(rows), q.data(), rowBytes, scales.data(), 1, w, q0, q1, bias, out, N, 0});
  });
}

}  // namespace rnn::cpu
