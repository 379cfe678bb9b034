// The LSTM step as one kernel per tile: x_t W_ih^T + h W_hh^T + b for a tile of rows and of 16 units (all four
// gates of those units, so the tile's accumulators hold everything the cell needs), then the cell update
// straight from the tile. The input projection runs inside each step's kernel too, so no [T*B, 4H] gate buffer
// goes through memory, and the weights are read from panels packed once per call instead of being re-packed
// by a BLAS call every step.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rnn::cpu {

constexpr int kLstmUnits = 16;                       // units per panel
constexpr int kLstmPanelCols = 4 * kLstmUnits;       // gate columns per panel: [i 16 | f 16 | g 16 | o 16]

inline int lstmGroups(int H) { return (H + kLstmUnits - 1) / kLstmUnits; }
inline size_t lstmPanelFloats(int I, int P) { return size_t(I + P) * kLstmPanelCols; }

// Packs unit groups [q0, q1) of W_ih [4H, I], W_hh [4H, P] and the summed bias [4H] (PyTorch gate order):
// group q's panel holds, for k = 0 .. I+P-1 (input columns, then hidden columns), the 64 weights of its four
// gates x 16 units; units past H are zero. panels/bias point at group 0. With I = 0, W_ih is not packed (the
// input projection is then computed beforehand, for all steps, and passed as xg).
void packLstm(const float* wIh, int I, const float* wHh, int P, const float* bias, int H, int q0, int q1,
              float* panels, float* packedBias);

struct LstmFusedArgs {
  int rows;                  // active rows of this step
  int I, P, H;
  const float* x;            // input row b at x + b * xStride (I > 0: the input projection is in the panels)
  int64_t xStride;
  const float* xg;           // I == 0: the input projection, gate g of unit j of row b at xg + b * xgStride + g * H + j
  int64_t xgStride;          // (read up to 15 floats past the last unit: the buffer needs that much slack)
  const float* h;            // previous h, row b at h + b * P
  const float* panels;       // packed, group 0
  const float* bias;         // packed, group 0
  int q0, q1;                // this member's unit groups
  float* c;                  // cell state, row b at c + b * H (updated in place)
  float* hNew;               // new (unprojected) h, row b at hNew + b * hNewStride
  int64_t hNewStride;
  float* saved;              // null, or activated gates of row b at saved + b * savedStride + gate * H
  int64_t savedStride;
};

// One step for this member's units; rows of the tile are independent, so any split of units is exact.
void lstmFusedStep(const LstmFusedArgs& a);

}  // namespace rnn::cpu
