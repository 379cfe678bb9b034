// The layer / direction / time driver shared by every cell and every backend. A backend supplies the
// GEMM, the fused step and a few copies; the driver owns the schedule:
//   per layer and direction: one GEMM projects the whole input sequence (all T*B rows),
//   then per step: one recurrent GEMM on the active rows, one fused element-wise step,
//   (LSTM projSize: one more GEMM), and a copy of h into the output rows.
// Packed sequences shrink the active rows per step; rows that are done keep their last state,
// which is therefore h_n, and reverse-direction rows start from h0 when they first become active.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rnn_spec.h"
#include "step_args.h"

namespace rnn {

template <class Backend>
void rnnForward(Backend& be, const RnnSpec& spec, const RnnIo& io) {
  const SeqLayout layout = SeqLayout::of(spec);
  const std::vector<LayerWeights> weights = layerWeights(spec, io);
  const int T = spec.seqLen, B = spec.batch, H = spec.hiddenSize, P = spec.outSize(), D = spec.directions();
  const int GH = spec.gates() * H;
  const int64_t rows = layout.rows;
  const bool proj = spec.projSize > 0;
  const bool lstm = hasCellState(spec.kind);
  const bool gru = spec.kind == CellKind::Gru;
  const int64_t layerOut = rows * D * P;

  // One allocation per call; nothing is allocated inside the loops.
  const size_t xgSize = size_t(rows) * GH, hgSize = size_t(B) * GH, hFullSize = proj ? size_t(B) * H : 0;
  const size_t biasSize = size_t(GH) + H;
  const size_t bufSize = spec.numLayers > 1 ? size_t(layerOut) * (spec.numLayers > 2 ? 2 : 1) : 0;
  float* ws = be.workspace(xgSize + hgSize + hFullSize + biasSize + bufSize);
  float* xg = ws;
  float* hg = xg + xgSize;
  float* hFull = hg + hgSize;
  float* bias = hFull + hFullSize;
  float* buffers = bias + biasSize;

  const float* in = io.input.data;
  int inSize = spec.inputSize;
  for (int l = 0; l < spec.numLayers; ++l) {
    const bool last = l == spec.numLayers - 1;
    float* out = last ? io.output.data : buffers + (l % 2) * layerOut;
    for (int d = 0; d < D; ++d) {
      const int ld = l * D + d;
      const LayerWeights& w = weights[ld];
      be.gemmNT(rows, GH, inSize, in, inSize, w.wIh, inSize, xg, GH);
      if (spec.bias) be.combineBias(spec.kind, w.bIh, w.bHh, H, bias);
      else be.zero(bias, biasSize);
      float* h = io.hN.data + size_t(ld) * B * P;
      float* c = lstm ? io.cN.data + size_t(ld) * B * H : nullptr;
      if (io.h0.data) be.copy(h, io.h0.data + size_t(ld) * B * P, size_t(B) * P);
      else be.zero(h, size_t(B) * P);
      if (lstm) {
        if (io.c0.data) be.copy(c, io.c0.data + size_t(ld) * B * H, size_t(B) * H);
        else be.zero(c, size_t(B) * H);
      }
      for (int s = 0; s < T; ++s) {
        const int t = d == 0 ? s : T - 1 - s;
        const int bs = layout.batchSizes[t];
        be.gemmNT(bs, GH, P, h, P, w.wHh, P, hg, GH);
        StepArgs args{spec.kind, bs, H, xg + layout.rowBase[t] * GH, layout.strideB * GH, hg,
                      bias, gru ? bias + GH : nullptr,
                      h, proj ? hFull : h, c};
        be.step(args);
        if (proj) be.gemmNT(bs, P, H, hFull, H, w.wHr, H, h, P);
        be.scatterRows(out + layout.rowBase[t] * D * P + d * P, layout.strideB * D * P, h, bs, P);
      }
    }
    if (!last && spec.training && spec.dropout > 0.f) be.dropout(out, size_t(layerOut), spec.dropout, spec.seed + l);
    in = out;
    inSize = D * P;
  }
}

}  // namespace rnn
