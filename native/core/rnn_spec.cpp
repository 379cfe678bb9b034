#include "rnn_spec.h"

#include "rnn_backward.h"
#include "rnn_saved.h"

#include <sstream>

namespace rnn {

SeqLayout SeqLayout::of(const RnnSpec& spec) {
  SeqLayout layout;
  const int T = spec.seqLen, B = spec.batch;
  layout.rowBase.resize(T);
  if (spec.packed()) {
    layout.batchSizes = spec.batchSizes;
    int64_t offset = 0;
    for (int t = 0; t < T; ++t) {
      layout.rowBase[t] = offset;
      offset += spec.batchSizes[t];
    }
    layout.rows = offset;
  } else {
    layout.batchSizes.assign(T, B);
    layout.strideB = spec.batchFirst ? T : 1;
    for (int t = 0; t < T; ++t) layout.rowBase[t] = spec.batchFirst ? t : int64_t(t) * B;
    layout.rows = int64_t(T) * B;
  }
  return layout;
}

size_t weightsPerLayerDirection(const RnnSpec& spec) {
  return 2 + (spec.bias ? 2 : 0) + (spec.projSize > 0 ? 1 : 0);
}

namespace {

std::string expectSize(const char* name, const FloatSpan& span, size_t expected, bool optional = false) {
  if (optional && span.data == nullptr) return "";
  if (span.data == nullptr || span.size != expected) {
    std::ostringstream out;
    out << "native check: " << name << " has " << span.size << " elements, expected " << expected;
    return out.str();
  }
  return "";
}

}  // namespace

std::string validate(const RnnSpec& spec, const RnnIo& io) {
  const int64_t kMax = int64_t(1) << 31;
  if (spec.inputSize < 1 || spec.hiddenSize < 1 || spec.numLayers < 1 || spec.seqLen < 1 || spec.batch < 1) {
    return "native check: sizes must be positive";
  }
  if (spec.projSize < 0 || spec.projSize >= spec.hiddenSize || (spec.projSize > 0 && spec.kind != CellKind::Lstm)) {
    return "native check: invalid projSize";
  }
  if (int64_t(spec.gates()) * spec.hiddenSize >= kMax || int64_t(spec.seqLen) * spec.batch >= kMax) {
    return "native check: sizes too large";
  }
  if (spec.packed()) {
    if (int(spec.batchSizes.size()) != spec.seqLen) return "native check: batchSizes length must equal seqLen";
    int previous = spec.batch;
    if (spec.batchSizes[0] != spec.batch) return "native check: first batch size must equal batch";
    for (int bs : spec.batchSizes) {
      if (bs < 1 || bs > previous) return "native check: batchSizes must be positive and non-increasing";
      previous = bs;
    }
  }
  const SeqLayout layout = SeqLayout::of(spec);
  const size_t LD = size_t(spec.numLayers) * spec.directions();
  const size_t H = spec.hiddenSize, P = spec.outSize(), G = spec.gates();
  if (io.weights.size() != LD * weightsPerLayerDirection(spec)) return "native check: wrong number of weight tensors";
  // an int8 call's matrices are packed bytes: the CPU checks them (int8WeightsError); its biases are float32
  const bool packed = spec.dtype == ElemType::I8;
  auto matrix = [&](const char* name, const FloatSpan& span, size_t n) { return packed ? std::string() : expectSize(name, span, n); };
  size_t w = 0;
  for (int l = 0; l < spec.numLayers; ++l) {
    for (int d = 0; d < spec.directions(); ++d) {
      std::string err = matrix("weight_ih", io.weights[w++], G * H * spec.layerInputSize(l));
      if (err.empty()) err = matrix("weight_hh", io.weights[w++], G * H * P);
      if (err.empty() && spec.bias) err = expectSize("bias_ih", io.weights[w++], G * H);
      if (err.empty() && spec.bias) err = expectSize("bias_hh", io.weights[w++], G * H);
      if (err.empty() && spec.projSize > 0) err = matrix("weight_hr", io.weights[w++], P * H);
      if (!err.empty()) return err;
    }
  }
  const size_t rows = size_t(layout.rows), B = spec.batch;
  std::string err = expectSize("input", io.input, rows * spec.inputSize);
  if (err.empty()) err = expectSize("output", io.output, rows * spec.directions() * P);
  if (err.empty()) err = expectSize("h0", io.h0, LD * B * P, true);
  if (err.empty()) err = expectSize("h_n", io.hN, LD * B * P);
  if (hasCellState(spec.kind)) {
    if (err.empty()) err = expectSize("c0", io.c0, LD * B * H, true);
    if (err.empty()) err = expectSize("c_n", io.cN, LD * B * H);
  }
  if (err.empty()) err = expectSize("saved", io.saved, SavedLayout::of(spec).total, true);
  return err;
}

std::vector<LayerWeights> layerWeights(const RnnSpec& spec, const RnnIo& io) {
  std::vector<LayerWeights> result;
  size_t w = 0;
  for (int ld = 0; ld < spec.numLayers * spec.directions(); ++ld) {
    LayerWeights lw;
    lw.wIh = io.weights[w++].data;
    lw.wHh = io.weights[w++].data;
    if (spec.bias) {
      lw.bIh = io.weights[w++].data;
      lw.bHh = io.weights[w++].data;
    }
    if (spec.projSize > 0) lw.wHr = io.weights[w++].data;
    if (!io.prepacked.empty()) lw.prepacked = reinterpret_cast<const uint8_t*>(io.prepacked[ld].data);
    result.push_back(lw);
  }
  return result;
}

std::string validateGrad(const RnnSpec& spec, const RnnIo& io, const RnnGradIo& g) {
  std::string err = validate(spec, io);
  if (!err.empty()) return err;
  if (!io.saved.data) return "native check: backward needs the saved forward state";
  const size_t LD = size_t(spec.numLayers) * spec.directions();
  const size_t B = spec.batch, H = spec.hiddenSize, P = spec.outSize();
  err = expectSize("grad_output", g.gradOutput, io.output.size, true);
  if (err.empty()) err = expectSize("grad_h_n", g.gradHN, LD * B * P, true);
  if (err.empty()) err = expectSize("grad_input", g.gradInput, io.input.size, true);  // absent: the input needs no gradient
  if (err.empty()) err = expectSize("grad_h0", g.gradH0, LD * B * P, true);
  if (hasCellState(spec.kind)) {
    if (err.empty()) err = expectSize("grad_c_n", g.gradCN, LD * B * H, true);
    if (err.empty()) err = expectSize("grad_c0", g.gradC0, LD * B * H, true);
  }
  if (err.empty() && g.gradWeights.size() != io.weights.size()) err = "native check: wrong number of weight gradients";
  for (size_t i = 0; err.empty() && i < g.gradWeights.size(); ++i) err = expectSize("weight gradient", g.gradWeights[i], io.weights[i].size);
  return err;
}

}  // namespace rnn
