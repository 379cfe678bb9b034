// The LSTM / GRU step as one kernel per tile: x_t W_ih^T + h W_hh^T + biases for a tile of rows and of U units
// (all gates of those units, so the tile's accumulators hold everything the cell needs), then the cell update
// straight from the tile. The input projection can run inside each step's kernel too, so that no [T*B, G*H]
// gate buffer goes through memory; the weights are read from panels packed once per call instead of being
// re-packed by a BLAS call every step.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/cell_kind.h"
#include "xg_layout.h"

namespace rnn::cpu {

// Units per panel: 8 with AVX2 (a gate's units fill one ymm), else 16 (one zmm), so that every kernel reads
// whole panel rows. Group q holds units [q U, q U + U); a tile has 4 U columns: LSTM [i | f | g | o], GRU
// [r | z | n (input part) | n (hidden part)].
int packedUnits();
constexpr int kMaxPackedUnits = 16;

inline int packedGroups(int H) { return (H + packedUnits() - 1) / packedUnits(); }
// floats per group: for each k (I input columns, then P hidden columns), the weights of G gates x U units
inline size_t panelFloats(CellKind kind, int I, int P) { return size_t(I + P) * gateCount(kind) * packedUnits(); }
inline size_t packedBiasFloats() { return size_t(4) * packedUnits(); }

// Packs unit groups [q0, q1) of W_ih [G*H, I] and W_hh [G*H, P] (PyTorch gate order; units past H are zero) and
// the tile's initial values per column: bias[G*H] (LSTM: b_ih + b_hh; GRU: b_ih + b_hh for r and z, b_in for n)
// plus, for GRU, biasHn[H] in the fourth block. panels/packedBias point at group 0. With I = 0, W_ih is not
// packed: the input projection is then computed beforehand, for all steps, and passed as xg.
void packPanels(CellKind kind, const float* wIh, int I, const float* wHh, int P, const float* bias,
                const float* biasHn, int H, int q0, int q1, float* panels, float* packedBias);

// The input projection on its own, for all rows before the recurrence (batch < 4: a step has too few rows to
// reuse W_ih from the panels): xg[row, g H + j] = x[row] . W_ih[g H + j] for this member's unit groups, with
// W_ih packed by packInputPanels (panelFloats(kind, I, 0) floats per group). Measured 3-6% faster per call
// than OpenBLAS here (one GEMM per gate of [T B, I] x [units, I]^T), at batch 1 and at H = 1024, batch 8-64.
void packInputPanels(CellKind kind, const float* wIh, int I, int H, int q0, int q1, float* panels);

struct ProjectionArgs {
  CellKind kind;
  int rows, I, H;
  const float* x;  // row r at x + r * xStride
  int64_t xStride;
  const float* panels;  // group 0
  int q0, q1;
  float* xg;
  XgLayout xgLayout;
};

void packedProjection(const ProjectionArgs& a);

struct PackedStepArgs {
  CellKind kind;             // Lstm or Gru
  int rows;                  // active rows of this step
  int I, P, H;
  const float* x;            // input row b at x + b * xStride (I > 0: the input projection is in the panels)
  int64_t xStride;
  const float* xg;           // I == 0: the input projection of this step's rows (row b = the layout's row b)
  XgLayout xgLayout;         // (whole groups are read: the buffer needs XgLayout::floats)
  const float* h;            // previous h, row b at h + b * P
  const float* panels;       // packed, group 0
  const float* bias;         // packed, group 0
  int q0, q1;                // this member's unit groups
  float* c;                  // LSTM cell state, row b at c + b * H (updated in place)
  float* hNew;               // new (unprojected) h, row b at hNew + b * hNewStride
  int64_t hNewStride;
  float* saved;              // null, or block k of row b at saved + b * savedStride + k * H (see StepArgs)
  int64_t savedStride;
};

// One step for this member's units; rows and units of a tile are independent, so any split of groups is exact.
void packedStep(const PackedStepArgs& a);

// The cell from gate sums computed elsewhere (a short sequence's matrix-vector products on the weights as they
// are, packing nothing): gate g of unit j of row b is xg[b xgStride + g H + j] + hg[b hgStride + g H + j]
// + bias[g H + j] (GRU's n: x_n + b_in, and r scales hg_n + biasHn). The rest as PackedStepArgs (xg, x, panels,
// bias and the units there unused; units [j0, j1)).
struct GateSumsArgs {
  const float* xg;
  int64_t xgStride;
  const float* hg;
  int64_t hgStride;
  const float* bias;    // G H
  const float* biasHn;  // GRU: H
  int j0, j1;
};
void gateSumsStep(const PackedStepArgs& a, const GateSumsArgs& g);

}  // namespace rnn::cpu
