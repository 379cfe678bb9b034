// The layer / direction driver shared by every cell, every backend and every precision: it owns the schedule
// (layers in order, directions, initial states, inter-layer buffers and dropout) and hands each
// layer-direction to the backend's recurrence, which projects the whole input sequence with one
// GEMM over all T*B rows and then runs the time loop (recurrent GEMM + fused step per step).
// Packed sequences shrink the active rows per step; rows that are done keep their last state,
// which is therefore h_n, and reverse-direction rows start from h0 when they first become active.
//
// A backend (CpuBackend is the model) names what its recurrence computes on:
//   Elem, kElemType  the activations: layer inputs and outputs and h (float; bfloat16 / float16 bits)
//   Weights          a layer-direction's weights as its recurrence reads them (LayerWeights, WeightsOf<...>)
//   kWideGruState    GRU keeps h in float32 as well, beside the rounded h (LayerDirectionOf::hF)
// and supplies recurrence, scratch<T>, copy, zero, convert (between element types) and dropout on Elem.
// The cell state is float32 at every precision.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "rnn_saved.h"
#include "rnn_spec.h"

namespace rnn {

// Where one layer-direction saves what backward needs (all null when nothing is saved).
struct SavedPointers {
  float* gates = nullptr;  // [rows, blocks * H]
  float* hPrev = nullptr;  // [rows, P]
  float* cPrev = nullptr;  // [rows, H] (LSTM)
  float* hFull = nullptr;  // [rows, H] (LSTM with projections)
  int blocks = 0;
};

// A layer-direction's weights read as what the call's dtype says they hold: LayerWeights' pointers, the
// matrices as Matrix (bfloat16 bits, packed int8 panels) and the biases as Bias.
template <class Matrix, class Bias = Matrix>
struct WeightsOf {
  const Matrix* wIh;
  const Matrix* wHh;
  const Bias* bIh;  // null when bias=false
  const Bias* bHh;
  const Matrix* wHr;  // null unless projSize > 0
  const uint8_t* prepacked;  // as LayerWeights
  explicit WeightsOf(const LayerWeights& w)
      : wIh(reinterpret_cast<const Matrix*>(w.wIh)), wHh(reinterpret_cast<const Matrix*>(w.wHh)),
        bIh(reinterpret_cast<const Bias*>(w.bIh)), bHh(reinterpret_cast<const Bias*>(w.bHh)),
        wHr(reinterpret_cast<const Matrix*>(w.wHr)), prepacked(w.prepacked) {}
};

// One layer in one direction, as a backend's recurrence sees it.
template <class Elem, class Weights>
struct LayerDirectionOf {
  CellKind kind;
  const SeqLayout* layout;
  int inputSize, hiddenSize, outSize;  // outSize = projSize, or hiddenSize without projections
  bool reverse;
  const Elem* input;                   // layout.rows x inputSize
  Weights weights;                     // biases null when the module has none
  Elem* h;                             // [B, outSize]: initial state in, final state out
  float* c;                            // LSTM: [B, hiddenSize], likewise; else null
  float* hF;                           // GRU where the backend keeps it (kWideGruState): h in float32, likewise
  Elem* output;                        // row r, this direction's columns at output + r * outputStride; or, when
  float* outputF;                      // null, the same in float32 (wider results than Elem: the values widened)
  int64_t outputStride;
  SavedPointers saved;                 // float32 calls only
};
using LayerDirection = LayerDirectionOf<float, LayerWeights>;

// What the float32 backends (CpuBackend, CudaBackend) compute on.
struct Float32Storage {
  using Elem = float;
  static constexpr ElemType kElemType = ElemType::F32;
  using Weights = LayerWeights;
  static constexpr bool kWideGruState = false;
};

// Element `at` of a span, as T; and where it starts, whatever the span's type.
template <class T>
T* spanAt(const FloatSpan& s, size_t at) {
  return static_cast<T*>(s.raw()) + at;
}
inline void* bytesAt(const FloatSpan& s, size_t at) { return spanAt<char>(s, at * elemSize(s.type)); }

// dst (n elements of `type`) = the span's elements from `at`, converted where its type differs; zeros without it.
template <class Backend, class T>
void loadState(Backend& be, T* dst, ElemType type, const FloatSpan& s, size_t at, size_t n) {
  if (!s.data) be.zero(dst, n);
  else if (s.type == type) be.copy(dst, spanAt<const T>(s, at), n);
  else be.convert(dst, type, bytesAt(s, at), s.type, n);
}

// Backends that can run a stack's layers at once (recurrenceStack) say when through stacksLayers(spec).
template <class Backend, class = void>
constexpr bool kStacksLayers = false;
template <class Backend>
constexpr bool kStacksLayers<Backend, std::void_t<decltype(&Backend::recurrenceStack)>> = true;

// Backends that can run a bidirectional layer's two directions at once (recurrencePair) say when through
// pairsDirections(spec).
template <class Backend, class = void>
constexpr bool kPairsDirections = false;
template <class Backend>
constexpr bool kPairsDirections<
    Backend, std::void_t<decltype(std::declval<Backend&>().recurrencePair(
                 std::declval<const LayerDirectionOf<typename Backend::Elem, typename Backend::Weights>&>(),
                 std::declval<const LayerDirectionOf<typename Backend::Elem, typename Backend::Weights>&>()))>> = true;

// Every layer at once (a unidirectional stack): the backend runs layer l + 1's step t as soon as layer l's output
// row t is there, so each intermediate layer writes a buffer of its own, and each layer has its own states where
// they are not the results' (converted at the end, as rnnForward does).
template <class Backend>
void rnnForwardStack(Backend& be, const RnnSpec& spec, const RnnIo& io, const SeqLayout& layout,
                     const std::vector<LayerWeights>& weights, const typename Backend::Elem* in) {
  using Elem = typename Backend::Elem;
  constexpr ElemType elem = Backend::kElemType;
  const int B = spec.batch, H = spec.hiddenSize, P = spec.outSize(), N = spec.numLayers;
  const bool lstm = hasCellState(spec.kind), wideGru = Backend::kWideGruState && spec.kind == CellKind::Gru;
  const bool hInPlace = io.hN.type == elem, cInPlace = io.cN.type == ElemType::F32, wideOutput = io.output.type != elem;
  const size_t hSize = size_t(B) * P, cSize = size_t(B) * H;
  const int64_t layerOut = layout.rows * P;
  auto buffers = be.template scratch<Elem>(size_t(layerOut) * (N - 1));
  auto hOwn = be.template scratch<Elem>(hInPlace ? 0 : hSize * N);
  auto cOwn = be.template scratch<float>(lstm && !cInPlace ? cSize * N : 0);
  auto hF = be.template scratch<float>(wideGru ? hSize * N : 0);  // each layer's unrounded h
  std::vector<LayerDirectionOf<Elem, typename Backend::Weights>> layers;
  int inSize = spec.inputSize;
  for (int l = 0; l < N; ++l) {
    const bool last = l == N - 1;
    Elem* out = last ? (wideOutput ? nullptr : spanAt<Elem>(io.output, 0))
                     : reinterpret_cast<Elem*>(buffers.data()) + l * layerOut;
    Elem* h = hInPlace ? spanAt<Elem>(io.hN, l * hSize) : reinterpret_cast<Elem*>(hOwn.data()) + l * hSize;
    float* c = !lstm ? nullptr : cInPlace ? io.cN.data + l * cSize : cOwn.data() + l * cSize;
    float* f = wideGru ? hF.data() + l * hSize : nullptr;
    loadState(be, h, elem, io.h0, l * hSize, hSize);
    if (lstm) loadState(be, c, ElemType::F32, io.c0, l * cSize, cSize);
    if (wideGru) loadState(be, f, ElemType::F32, io.h0, l * hSize, hSize);  // h_0 unrounded
    layers.push_back({spec.kind, &layout, inSize, H, P, false, in, typename Backend::Weights(weights[l]), h, c, f, out,
                      last && wideOutput ? io.output.data : nullptr, int64_t(P), SavedPointers{}});
    in = out;
    inSize = P;
  }
  be.recurrenceStack(layers);
  for (int l = 0; l < N; ++l) {
    if (!hInPlace) be.convert(bytesAt(io.hN, l * hSize), io.hN.type, layers[l].h, elem, hSize);
    if (lstm && !cInPlace) be.convert(bytesAt(io.cN, l * cSize), io.cN.type, layers[l].c, ElemType::F32, cSize);
  }
}

template <class Backend>
void rnnForward(Backend& be, const RnnSpec& spec, const RnnIo& io) {
  using Elem = typename Backend::Elem;
  using Weights = typename Backend::Weights;
  constexpr ElemType elem = Backend::kElemType;
  const SeqLayout layout = SeqLayout::of(spec);
  const std::vector<LayerWeights> weights = layerWeights(spec, io);
  const int B = spec.batch, H = spec.hiddenSize, P = spec.outSize(), D = spec.directions();
  const bool lstm = hasCellState(spec.kind), wideGru = Backend::kWideGruState && spec.kind == CellKind::Gru;
  const size_t hSize = size_t(B) * P, cSize = size_t(B) * H;
  const int64_t layerOut = layout.rows * D * P;
  // Spans of another type than the backend's (a bfloat16 call's float32 input, states or results) are converted
  // at the ends; the states live in h_n and c_n where the types agree, else in scratch.
  const bool hInPlace = io.hN.type == elem, cInPlace = io.cN.type == ElemType::F32, wideOutput = io.output.type != elem;
  auto hScratch = be.template scratch<Elem>(hInPlace ? 0 : hSize);
  auto fScratch = be.template scratch<float>(wideGru ? hSize : lstm && !cInPlace ? cSize : 0);  // hF, or c
  Elem* const hOwn = reinterpret_cast<Elem*>(hScratch.data());
  float* const f = fScratch.data();
  auto inScratch = be.template scratch<Elem>(io.input.type == elem ? 0 : io.input.size);
  const Elem* in = spanAt<const Elem>(io.input, 0);
  if (io.input.type != elem) {
    be.convert(inScratch.data(), elem, io.input.raw(), io.input.type, io.input.size);
    in = reinterpret_cast<const Elem*>(inScratch.data());
  }
  if constexpr (kStacksLayers<Backend>) {
    const bool dropout = spec.training && spec.dropout > 0.f;
    if (spec.numLayers > 1 && D == 1 && !io.saved.data && !dropout && be.stacksLayers(spec)) {
      return rnnForwardStack(be, spec, io, layout, weights, in);
    }
  }
  // Inter-layer outputs ping-pong between two buffers; the last layer writes the caller's output. When saving
  // for backward (float32 calls only), layer l writes straight into the saved input of layer l + 1 instead.
  Elem* const saved = reinterpret_cast<Elem*>(io.saved.data);
  const SavedLayout savedLayout = saved ? SavedLayout::of(spec) : SavedLayout{};
  const size_t bufSize = spec.numLayers > 1 && !saved ? size_t(layerOut) * (spec.numLayers > 2 ? 2 : 1) : 0;
  auto buffers = be.template scratch<Elem>(bufSize);  // backend memory (host or device), released when the call ends

  int inSize = spec.inputSize;
  for (int l = 0; l < spec.numLayers; ++l) {
    const bool last = l == spec.numLayers - 1;
    Elem* out = last ? (wideOutput ? nullptr : spanAt<Elem>(io.output, 0))
                : saved ? saved + savedLayout.layerInput[l + 1]
                        : reinterpret_cast<Elem*>(buffers.data()) + (l % 2) * layerOut;
    float* outF = last && wideOutput ? io.output.data : nullptr;
    bool paired = false;
    if constexpr (kPairsDirections<Backend>) {
      // both directions at once, each with its own states in place
      paired = D == 2 && !saved && hInPlace && (cInPlace || !lstm) && !wideGru && be.pairsDirections(spec);
      if (paired) {
        std::vector<LayerDirectionOf<Elem, Weights>> pair;
        for (int d = 0; d < 2; ++d) {
          const size_t hAt = (l * D + d) * hSize, cAt = (l * D + d) * cSize;
          Elem* h = spanAt<Elem>(io.hN, hAt);
          float* c = lstm ? io.cN.data + cAt : nullptr;
          loadState(be, h, elem, io.h0, hAt, hSize);
          if (lstm) loadState(be, c, ElemType::F32, io.c0, cAt, cSize);
          pair.push_back({spec.kind, &layout, inSize, H, P, d == 1, in, Weights(weights[l * D + d]), h, c, nullptr,
                          out ? out + d * P : nullptr, outF ? outF + d * P : nullptr, int64_t(D) * P, SavedPointers{}});
        }
        be.recurrencePair(pair[0], pair[1]);
      }
    }
    for (int d = 0; d < D && !paired; ++d) {
      const int ld = l * D + d;
      const size_t hAt = ld * hSize, cAt = ld * cSize;
      Elem* h = hInPlace ? spanAt<Elem>(io.hN, hAt) : hOwn;
      float* c = !lstm ? nullptr : cInPlace ? io.cN.data + cAt : f;
      loadState(be, h, elem, io.h0, hAt, hSize);
      if (lstm) loadState(be, c, ElemType::F32, io.c0, cAt, cSize);
      if (wideGru) loadState(be, f, ElemType::F32, io.h0, hAt, hSize);  // h_0 unrounded
      SavedPointers keep;
      if (saved) {
        const SavedDirection& at = savedLayout.directions[ld];
        float* area = io.saved.data;
        keep = {area + at.gates, area + at.hPrev, lstm ? area + at.cPrev : nullptr,
                spec.projSize > 0 ? area + at.hFull : nullptr, savedLayout.savedBlocks};
      }
      be.recurrence(LayerDirectionOf<Elem, Weights>{spec.kind, &layout, inSize, H, P, d == 1, in, Weights(weights[ld]), h, c,
                                                    wideGru ? f : nullptr, out ? out + d * P : nullptr,
                                                    outF ? outF + d * P : nullptr, int64_t(D) * P, keep});
      if (!hInPlace) be.convert(bytesAt(io.hN, hAt), io.hN.type, h, elem, hSize);
      if (lstm && !cInPlace) be.convert(bytesAt(io.cN, cAt), io.cN.type, c, ElemType::F32, cSize);
    }
    if (!last && spec.training && spec.dropout > 0.f) be.dropout(out, size_t(layerOut), spec.dropout, spec.seed + l);
    in = out;
    inSize = D * P;
  }
}

}  // namespace rnn
