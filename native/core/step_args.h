// One time step of one layer and direction, as the fused element-wise kernel sees it.
#pragma once
#include <cstdint>

#include "cell_kind.h"

namespace rnn {

struct StepArgs {
  CellKind kind;
  int batch;             // rows active at this step (shrinks for packed sequences)
  int hidden;            // H
  const float* xg;       // input projection of row b at xg + b * xgStride, G*H wide
  int64_t xgStride;
  float* hg;             // recurrent projection h W_hh^T, [batch, G*H]; the kernel may overwrite it
  const float* biasX;    // G*H: b_ih + b_hh (GRU n block: b_in only); null without bias
  const float* biasHn;   // GRU only: b_hn, H (zeros without bias)
  const float* hPrev;    // [batch, H] previous hidden state (read by GRU)
  float* hNew;           // [batch, H] new hidden state (may equal hPrev)
  float* c;              // LSTM: [batch, H] cell state, updated in place
};

}  // namespace rnn
