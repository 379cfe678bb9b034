// One time step of one layer and direction, as the fused element-wise kernel sees it. The kernel may
// cover only a block of hidden units (one thread's share): every pointer is then offset to the block
// and `hidden` is the block's width, while the strides stay those of the full rows.
#pragma once
#include <cstdint>

#include "cell_kind.h"

namespace rnn {

struct StepArgs {
  CellKind kind;
  int batch;             // rows active at this step (shrinks for packed sequences)
  int hidden;            // units in this block; gate g of unit j is at column g * hidden + j
  const float* xg;       // input projection of row b at xg + b * xgStride
  int64_t xgStride;
  float* hg;             // recurrent projection h W_hh^T of row b at hg + b * hgStride; the kernel may overwrite it
  int64_t hgStride;
  const float* biasX;    // b_ih + b_hh (GRU n block: b_in only); zeros without bias
  const float* biasHn;   // GRU only: b_hn per unit (zeros without bias)
  const float* hPrev;    // previous hidden state of row b at hPrev + b * hStride (read by GRU)
  float* hNew;           // new hidden state (LSTM with projections: the unprojected h)
  int64_t hStride;
  float* c;              // LSTM: cell state of row b at c + b * cStride, updated in place
  int64_t cStride;
  // For backward (null when not saving): block k of row b at saved + b * savedStride + k * savedBlockStride
  // (LSTM: i, f, g, o activated; GRU: r, z, n, W_hn h + b_hn; RNN: h').
  float* saved;
  int64_t savedStride;
  int64_t savedBlockStride;
};

}  // namespace rnn
