// The element-wise backward of each cell's step on the CPU: from dL/dh (and dL/dc) of the active rows to the
// gradients of the gate pre-activations, using what the forward saved.
#pragma once
#include <cstdint>

#include "../core/cell_kind.h"

namespace rnn::cpu {

struct StepGradArgs {
  CellKind kind;
  int batch;                // active rows
  int hidden;               // units in this block (one team member's share)
  int gateStride;           // H: distance between gate blocks in saved rows and gradient rows, and the row
                            // stride of gradC and gradHDirect (all pointers are offset to the block's first unit)
  const float* gradH;       // [batch, H], row stride gradHStride (for LSTM with projections: dL/d(h before W_hr))
  int64_t gradHStride;
  const float* saved;       // row b at saved + b * savedStride, blocks of H (see rnn_saved.h)
  int64_t savedStride;
  const float* hPrev;       // row b at hPrev + b * hPrevStride (GRU)
  int64_t hPrevStride;
  const float* cPrev;       // row b at cPrev + b * cPrevStride (LSTM)
  int64_t cPrevStride;
  float* gradC;             // [batch, H] LSTM: dL/dc in (from later steps), dL/dc_{t-1} out
  float* gradGatesX;        // row b at gradGatesX + b * gradStride: dL/d(pre-activations), input side
  float* gradGatesH;        // same for the recurrent side (differs from the input side only for GRU's n gate)
  int64_t gradStride;
  float* gradHDirect;       // GRU: [batch, H] receives dL/dh * z, the path that skips W_hh
};

void cellBackward(const StepGradArgs& a);

}  // namespace rnn::cpu
