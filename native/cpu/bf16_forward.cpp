#include "bf16_forward.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "../core/dropout_mask.h"
#include "bf16_convert.h"
#include "bf16_prepack.h"
#include "bf16_step.h"
#include "layer_stack.h"
#include "line_copies.h"
#include "recurrence_scratch.h"
#include "cpu_backend.h"
#include "team_plan.h"
#include "thread_team.h"

namespace rnn::cpu {

namespace {

using Bf16Direction = LayerDirectionOf<uint16_t, WeightsOf<uint16_t>>;

// The driver's backend for bfloat16: activations, h and the inter-layer buffers are bfloat16 bits; c and GRU's h
// (hF, for its z h term) are float32 beside them.
class Bf16Backend : public CpuBackend {
 public:
  using Elem = uint16_t;
  static constexpr ElemType kElemType = ElemType::BF16;
  using Weights = WeightsOf<uint16_t>;
  static constexpr bool kWideGruState = true;
  explicit Bf16Backend(const RnnSpec& spec)
      : blocks_(teamSizeFor(spec.seqLen, spec.batch, spec.gates() * spec.hiddenSize, spec.outSize(), spec.hiddenSize, kForwardMinWork)) {}
  void recurrence(const Bf16Direction& ld) { run(ld, blocks_, nullptr); }
  void dropout(uint16_t* data, size_t n, float p, uint64_t seed);

  // A unidirectional stack at batch 1 on two members runs its layers at once (layer_stack.h), when a layer's W_ih
  // and W_hh fit a core's L2 together (H 256 at I = H: 512 KB each).
  bool stacksLayers(const RnnSpec& spec) const {
    const int64_t bytes = int64_t(sizeof(uint16_t)) * spec.gates() * spec.hiddenSize *
                          (std::max(spec.inputSize, spec.outSize()) + spec.outSize());
    return blocks_ >= 2 && spec.batch == 1 && bytes <= kStackWeightBytes;
  }
  void recurrenceStack(const std::vector<Bf16Direction>& layers) {
    runLayerStack(layers, getNumThreads(), [&](const Bf16Direction& ld, const LayerStream& s) { run(ld, 1, &s); });
  }

 private:
  // one layer-direction on `blocks` members; stream: a layer of a stack run at once
  void run(const Bf16Direction& ld, int blocks, const LayerStream* stream);
  int blocks_;
};

// The input projection inside each step's kernel while the packed weights stay in cache and a step has rows
// enough to reuse them (the float32 path's rule, packed_step / cpu_backend.cpp, at 2 bytes a weight).
bool projectionInPanels(int B, int G, int I, int P, int H) { return B >= 4 && bf16FusedPanelsFit(G, I, P, H); }

// One layer-direction on the team: member k owns a block of unit groups (and, with projections, of output
// columns). Phase 0 packs block k's panels (and runs its input projection for all rows when it is not in the
// panels); then per step one phase of cell blocks and, with projections, one of h_r W_hr^T columns.
void Bf16Backend::run(const Bf16Direction& ld, const int blocks, const LayerStream* stream) {
  const WeightsOf<uint16_t>& w = ld.weights;
  const SeqLayout& L = *ld.layout;
  const int T = int(L.batchSizes.size()), B = L.batchSizes[0];
  const int H = ld.hiddenSize, P = ld.outSize, I = ld.inputSize, G = gateCount(ld.kind), GH = G * H;
  const bool proj = w.wHr != nullptr, gru = ld.kind == CellKind::Gru;
  const bool inPanels = projectionInPanels(B, G, I, P, H);
  const int Ipanel = inPanels ? I : 0;
  const int64_t rows = L.rows;
  const int U = bf16Units();
  const int groups = bf16Groups(H), outGroups = proj ? bf16Groups(P) : 0;
  const std::vector<int> units = blockBounds(H, blocks);  // multiples of 16, so of U
  const std::vector<int> outCols = proj ? blockBounds(P, blocks) : units;

  const XgLayout xgLayout = XgLayout::byGroups(G, rows, U);
  // a module made for inference brings its panels packed (bf16_prepack.h: every layout this function picks)
  const bool pack = w.prepacked == nullptr;
  const bool team = blocks > 1;
  LineCopy<uint16_t> hLined(ld.h, size_t(B) * P, team);
  LineCopy<float> hFLined(ld.hF, size_t(B) * P, team), cLined(ld.c, size_t(B) * H, team);
  RowCopies<uint16_t> out(ld.output, ld.outputStride, rows, B, P, team);
  RowCopies<float> outF(ld.outputF, ld.outputStride, rows, B, P, team);
  const auto piece = scratchPieces<14>({
      sizeof(float) * (inPanels ? 0 : XgLayout::floats(rows, G, groups, U)),           // xg
      sizeof(uint16_t) * size_t(B) * P,                                               // hSpare
      sizeof(float) * (gru ? size_t(B) * P : 0),                                      // hFSpare
      sizeof(uint16_t) * (proj ? size_t(B) * H : 0),                                  // hFull
      sizeof(float) * (pack ? size_t(GH) + H : 0),                                    // bias, biasHn
      sizeof(uint32_t) * (pack ? groups * bf16PanelWords(G, Ipanel, P) : 0),          // panels
      sizeof(float) * (pack ? groups * bf16BiasFloats(G) : 0),                        // packedBias
      sizeof(uint32_t) * (pack && !inPanels ? groups * bf16PanelWords(G, I, 0) : 0),  // inputPanels
      sizeof(uint32_t) * (pack && proj ? outGroups * bf16PanelWords(1, H, 0) : 0),  // hrPanels
      hLined.bytes(), hFLined.bytes(), cLined.bytes(), out.bytes(), outF.bytes()});
  float* xg = reinterpret_cast<float*>(piece[0]);
  uint16_t* hSpare = reinterpret_cast<uint16_t*>(piece[1]);
  float* hFSpare = reinterpret_cast<float*>(piece[2]);
  uint16_t* hFull = reinterpret_cast<uint16_t*>(piece[3]);
  float* bias = reinterpret_cast<float*>(piece[4]);
  float* biasHn = bias + GH;
  const Bf16PrepackedView pre = pack ? Bf16PrepackedView{} : bf16PrepackedView(w.prepacked);
  uint32_t* const panelScratch = reinterpret_cast<uint32_t*>(piece[5]);
  float* const biasScratch = reinterpret_cast<float*>(piece[6]);
  uint32_t* const inputScratch = reinterpret_cast<uint32_t*>(piece[7]);
  uint32_t* const hrScratch = reinterpret_cast<uint32_t*>(piece[8]);
  const uint32_t* panels = pack ? panelScratch : inPanels ? pre.fused : pre.hidden;
  const float* packedBias = pack ? biasScratch : pre.bias;
  const uint32_t* inputPanels = pack ? inputScratch : pre.input;
  const uint32_t* hrPanels = pack ? hrScratch : pre.hr;

  if (pack) sumBiases(ld.kind, w.bIh, w.bHh, H, bias, biasHn, bf16ToFloat);

  const int perStep = proj ? 2 : 1;
  BlockPhases phases(blocks, 1 + T * perStep);
  uint16_t* const hStart = hLined.use(piece[9]);
  float* const hFStart = hFLined.use(piece[10]);
  float* const c = cLined.use(piece[11]);
  out.use(piece[12]);
  outF.use(piece[13]);
  auto groupsOf = [&](const std::vector<int>& bounds, int k, int& q0, int& q1) {
    q0 = bounds[k] / U;
    q1 = (bounds[k + 1] + U - 1) / U;
  };
  auto work = [&](int phase, int k) {
    if (phase == 0) {
      int q0, q1;
      groupsOf(units, k, q0, q1);
      if (!inPanels) {
        if (pack) packBf16Panels(G, w.wIh, I, nullptr, 0, H, q0, q1, inputScratch);
        if (!stream) {
          bf16Projection(Bf16ProjectionArgs{G, int(rows), I, H, ld.input, I, inputPanels, q0, q1, xg, nullptr, xgLayout});
        }
      }
      if (!pack) return;
      packBf16Panels(G, w.wIh, Ipanel, w.wHh, P, H, q0, q1, panelScratch);
      packBf16Bias(G, bias, biasHn, H, q0, q1, biasScratch);
      if (proj) {
        groupsOf(outCols, k, q0, q1);
        packBf16Panels(1, w.wHr, H, nullptr, 0, P, q0, q1, hrScratch);
      }
      return;
    }
    const int s = (phase - 1) / perStep;
    const bool projection = (phase - 1) % perStep == 1;
    const int t = ld.reverse ? T - 1 - s : s;
    const int bs = L.batchSizes[t];
    const bool even = s % 2 == 0;
    uint16_t* hCur = even ? hStart : hSpare;
    uint16_t* hNext = even ? hSpare : hStart;
    float* hFCur = even ? hFStart : hFSpare;
    float* hFNext = even ? hFSpare : hFStart;
    // inactive rows carry their state over; active rows go to the output
    auto finish = [&](int c0, int c1) {
      const size_t n = size_t(c1 - c0);
      for (int b = bs; b < B; ++b) {
        std::memcpy(hNext + int64_t(b) * P + c0, hCur + int64_t(b) * P + c0, n * sizeof(uint16_t));
        if (gru) std::memcpy(hFNext + int64_t(b) * P + c0, hFCur + int64_t(b) * P + c0, n * sizeof(float));
      }
      for (int b = 0; b < bs; ++b) {
        const int64_t row = L.row(t, b);
        if (outF.data) bf16ToFloats(hNext + int64_t(b) * P + c0, outF.data + row * outF.stride + c0, n);
        else std::memcpy(out.data + row * out.stride + c0, hNext + int64_t(b) * P + c0, n * sizeof(uint16_t));
      }
    };
    if (projection) {
      const int p0 = outCols[k], p1 = outCols[k + 1];
      if (p1 == p0) return;
      int q0, q1;
      groupsOf(outCols, k, q0, q1);
      bf16Projection(
          Bf16ProjectionArgs{1, bs, H, P, hFull, H, hrPanels, q0, q1, nullptr, hNext, XgLayout::byRows(1, P, U)});
      finish(p0, p1);
      if (stream) stream->done->publish(s + 1);
      return;
    }
    const int j0 = units[k], j1 = units[k + 1];
    if (j1 == j0) return;
    int q0, q1;
    groupsOf(units, k, q0, q1);
    if (stream && !inPanels && s % kStreamChunk == 0) {
      // the next chunk's input projection, once the layer below has written its rows (a stream runs forward, at
      // batch 1, so step s is row s)
      const int n = std::min(kStreamChunk, T - s);
      if (stream->below) stream->below->awaitAtLeast(s + n);
      bf16Projection(Bf16ProjectionArgs{G, n, I, H, ld.input + int64_t(s) * I, I, inputPanels, q0, q1,
                                        xgLayout.at(xg, s), nullptr, xgLayout});
    }
    bf16Step(Bf16StepArgs{ld.kind, bs, Ipanel, P, H, ld.input + L.rowBase[t] * I, L.strideB * I,
                          inPanels ? nullptr : xgLayout.at(xg, L.rowBase[t]), xgLayout.rowsEvery(L.strideB),
                          hCur, hFCur, panels, packedBias,
                          q0, q1, c, proj ? hFull : hNext, proj ? H : P, gru ? hFNext : nullptr});
    if (!proj) {
      finish(j0, j1);
      if (stream) stream->done->publish(s + 1);
    }
  };
  runTeam(blocks, [&](int rank, int size, SpinBarrier&) { phases.run(rank, size, work); });
  // after T steps the state is in hStart again when T is even
  if (T % 2 == 1) {
    std::memcpy(hStart, hSpare, sizeof(uint16_t) * size_t(B) * P);
    if (gru) std::memcpy(hFStart, hFSpare, sizeof(float) * size_t(B) * P);
  }
  hLined.copyBack();
  hFLined.copyBack();
  cLined.copyBack();
  out.copyBack();
  outF.copyBack();
}

void Bf16Backend::dropout(uint16_t* data, size_t n, float p, uint64_t seed) {
  const float scale = dropoutScale(p);
  for (size_t i = 0; i < n; ++i) data[i] = dropoutDrops(seed, uint64_t(i), p) ? 0 : floatToBf16(bf16ToFloat(data[i]) * scale);
}

}  // namespace

void rnnForwardCpuBf16(const RnnSpec& spec, const RnnIo& io) {
  Bf16Backend backend(spec);
  rnnForward(backend, spec, io);
}

}  // namespace rnn::cpu
