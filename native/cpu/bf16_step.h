// The bfloat16 forward's kernels on the CPU: weights packed once per call into panels of bfloat16 pairs, and one
// register-blocked kernel per tile of rows x (all gates of U units) that accumulates in float32 and ends with the
// cell update (float32 math; h rounded to bfloat16 once per step, as the next step's operand and the output).
// With AVX512_BF16 each pair of k is one VDPBF16PS (two products per float32 lane and instruction, twice the
// multiply-adds of an FMA per instruction); without it the same panels are widened to float32 in registers
// (a shift and a mask per pair) and go through FMAs: AVX-512, AVX2 or plain C++, as simdLevel()/bf16Dot() say.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/cell_kind.h"
#include "xg_layout.h"

namespace rnn::cpu {

// Units per group (one register's float32 lanes per gate): 8 with AVX2, else 16.
int bf16Units();
constexpr int kMaxBf16Units = 16;
inline int bf16Groups(int n) { return (n + bf16Units() - 1) / bf16Units(); }
// Accumulator blocks of a tile: one per gate; GRU one more, because r scales W_hn h but not W_in x.
inline int bf16Blocks(int gates) { return gates == 3 ? 4 : gates; }
// 32-bit words of one group's panel: per pair of k (ceil(I/2) pairs of the first operand's columns, then
// ceil(P/2) of the second's), G gates x U units, each word (W[row, 2p], W[row, 2p + 1]), the low half first.
inline size_t bf16PanelWords(int gates, int I, int P) {
  return size_t((I + 1) / 2 + (P + 1) / 2) * gates * bf16Units();
}
inline size_t bf16BiasFloats(int gates) { return size_t(bf16Blocks(gates)) * bf16Units(); }

// Packs unit groups [q0, q1) of A [G N, I] and B [G N, P] (PyTorch's gate order; either absent when its K is 0)
// into panels (group q at panels + q * bf16PanelWords(G, I, P)). Units past N and an odd K's last partner are 0.
void packBf16Panels(int gates, const uint16_t* a, int I, const uint16_t* b, int P, int N, int q0, int q1, uint32_t* panels);
// Each group's initial tile values: bias[G N] (float32; LSTM b_ih + b_hh, GRU that for r and z and b_in for n),
// and for GRU biasHn[N] in the fourth block.
void packBf16Bias(int gates, const float* bias, const float* biasHn, int N, int q0, int q1, float* packed);

struct Bf16StepArgs {
  CellKind kind;
  int rows;                  // active rows of this step
  int I, P, H;               // I > 0: the input projection runs in the panels (x is read), else xg is
  const uint16_t* x;         // input row b at x + b * xStride
  int64_t xStride;
  const float* xg;           // I == 0: the input projection of this step's rows (row b = the layout's row b)
  XgLayout xgLayout;         // (whole groups are read: the buffer needs XgLayout::floats)
  const uint16_t* h;         // previous h, rounded: row b at h + b * P
  const float* hPrev;        // GRU: previous h in float32, row b at hPrev + b * P
  const uint32_t* panels;    // group 0
  const float* bias;         // packed, group 0
  int q0, q1;                // this member's unit groups
  float* c;                  // LSTM: cell state, row b at c + b * H, updated in place
  uint16_t* hNew;            // new h rounded (LSTM with projections: the unprojected h), row b at hNew + b * hNewStride
  int64_t hNewStride;
  float* hNewF;              // GRU: new h in float32, row b at hNewF + b * P
};

// One step for this member's unit groups (rows and groups are independent: any split is exact).
void bf16Step(const Bf16StepArgs& a);

// out = A W^T without bias for groups [q0, q1) of N units of G gates: float32, or with outBf16 rounded (G = 1),
// both where outLayout says (gateStride unused for outBf16).
struct Bf16ProjectionArgs {
  int gates, rows, K, N;
  const uint16_t* a;  // row r at a + r * aStride
  int64_t aStride;
  const uint32_t* panels;  // packBf16Panels(gates, W, K, nullptr, 0, N, ...)
  int q0, q1;
  float* out;
  uint16_t* outBf16;
  XgLayout outLayout;
};

void bf16Projection(const Bf16ProjectionArgs& a);

}  // namespace rnn::cpu
