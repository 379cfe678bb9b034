// The int8 kernels: dynamic quantization of activation rows (one symmetric scale per row), a quantized GEMM
// (the input projection of all steps, LSTM's W_hr projection, Linear) and the recurrent step (h W_hh^T, then the
// cell update in float32). Each tile accumulates int32 in registers over packed int8 weights (int8_pack.h) and
// converts once: float(sum) * (row scale * weight row scale) (+ bias or the input projection). The float
// epilogue is the same code at every instruction-set level and is compiled without contracting a * b + c into
// FMAs, so results agree bit for bit across levels (the int32 sums are exact).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/cell_kind.h"
#include "int8_pack.h"

namespace rnn::cpu {

// rows x K floats (row r at x + r * xStride) to quantized rows (row r at q + r * qStride bytes, int8RowBytes(K)
// each) and scales[r * scaleStride] = max |x_r| / 127. A row of zeros gets scale 0; a row with NaN or infinity
// gets scale NaN (and zeros), so that everything computed from it is NaN, as in float32.
struct Int8QuantizeArgs {
  const float* x;
  int64_t xStride;
  int64_t rows;
  int K;
  uint8_t* q;
  int64_t qStride;
  float* scales;
  int64_t scaleStride;
};
void int8QuantizeRows(const Int8QuantizeArgs& a);

// out[r, g, j] = float(sum_k a_q[r, k] W_q[g N + j, k]) * (aScale[r] * wScale[g N + j]) (+ bias[g N + j]) for the
// unit groups [q0, q1), at out + r * outStride + g * gateStride + j.
struct Int8GemmArgs {
  int rows;
  const uint8_t* a;  // quantized rows, row r at a + r * aStride bytes
  int64_t aStride;
  const float* aScale;  // row r's scale at aScale[r * aScaleStride]
  int64_t aScaleStride;
  Int8Matrix w;
  int q0, q1;
  const float* bias;  // [G N] or null
  float* out;
  int64_t outStride, gateStride;
};
void int8Gemm(const Int8GemmArgs& a);

// The step's input projection, computed in the step's own tiles (instead of read from xg): each row tile's
// x_q W_ih^T sums stay in registers and L1 next to its h_q W_hh^T sums, which pays once tiles have rows enough to be
// bound by the dot products rather than by streaming W_ih (int8_forward.cpp decides). Dequantized exactly as
// int8Gemm writes xg (bias included), so both ways give the same bits.
struct Int8StepInput {
  const uint8_t* x;     // this step's quantized input rows: row b at x + b * xStride bytes
  int64_t xStride;
  const float* xScale;  // row b's scale at xScale[b * xScaleStride]
  int64_t xScaleStride;
  Int8Matrix w;         // W_ih, [G H, I]
  const float* bias;    // the summed biases [G H] (GRU's n gate: b_in only), or null
};

// One step for the unit groups [q0, q1): gate sums = xg + float(h_q W_hh^T) * (hScale * wScale), then the cell
// (xg from `input` when input.x is set).
struct Int8StepArgs {
  CellKind kind;
  int rows;             // active rows of this step
  int H;                // hidden units; W_hh is [G H, P] (w.K = P)
  const uint8_t* h;     // the previous h quantized: row b at h + b * hStride bytes
  int64_t hStride;
  const float* hScale;  // row b at hScale[b]
  Int8Matrix w;
  int q0, q1;
  const float* xg;      // input projection with biases: gate g of unit j of row b at xg + b * xgStride + g * H + j
  int64_t xgStride;
  const float* biasHn;  // GRU: b_hn [H] (r scales W_hn h + b_hn), or null
  const float* hPrev;   // GRU: the previous h in float32, row b at hPrev + b * hPrevStride
  int64_t hPrevStride;
  float* c;             // LSTM: cell state, row b at c + b * H, updated in place
  float* hNew;          // new h (LSTM with projections: the unprojected h), row b at hNew + b * hNewStride
  int64_t hNewStride;
  Int8StepInput input{};
};
void int8Step(const Int8StepArgs& a);

}  // namespace rnn::cpu
