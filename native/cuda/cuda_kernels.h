// Launchers of the CUDA element-wise kernels (kernels in cuda_kernels.cu). Plain C++ types only, so
// that host code using cuBLAS includes this without the CUDA compiler.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "../core/cell_kind.h"

namespace rnn::cuda {

// How half-precision elements are named in declarations host code sees (the .cu files read them as __half /
// __nv_bfloat16, cuda_elem.cuh): host code never does arithmetic on them.
struct F16Bits {
  uint16_t bits;
};
struct BF16Bits {
  uint16_t bits;
};

// One time step of one layer-direction: gates from both projections and the biases, the new state,
// inactive rows carried over and (without projections) the output rows written. T is the element type of
// h and the output (float, F16Bits or BF16Bits); the gate projections, biases and the cell state are float32
// in every case (half precision accumulates and keeps c in float32).
template <class T>
struct StepParamsOf {
  CellKind kind;
  int batch;            // B: all rows of the state
  int active;           // rows active at this step (packed sequences)
  int hidden;           // H
  int outSize;          // P (== H without projections)
  const float* xg;      // input projections, row r at xg + (r - xgRow0) * gates*H
  int64_t rowBase;      // row of batch entry 0 at this step
  int64_t strideB;      // rows between batch entries
  const float* hg;      // [active, gates*H] recurrent projections
  const float* biasX;   // gates*H
  const float* biasHn;  // H (GRU)
  const T* hCur;        // [B, P]
  T* hNext;             // [B, P]
  T* hFull;             // [B, H] (LSTM with projections: the unprojected h; else null)
  float* c;             // [B, H] (LSTM)
  T* output;            // this direction's columns; row r at output + r * outputStride
  int64_t outputStride;
  // For backward (null when not saving), rows as in rnn_saved.h: savedGates row r at r * savedBlocks*H
  // (LSTM i, f, g, o activated; GRU r, z, n, W_hn h + b_hn; RNN h'), savedHPrev [rows, P],
  // savedCPrev [rows, H] (LSTM), savedHFull [rows, H] (LSTM with projections).
  float* savedGates = nullptr;
  int savedBlocks = 0;
  float* savedHPrev = nullptr;
  float* savedCPrev = nullptr;
  float* savedHFull = nullptr;
  // First sequence row held in xg (a time chunk's projections, cuda_pipelined_forward.cpp); 0: xg holds every row.
  int64_t xgRow0 = 0;
};
using StepParams = StepParamsOf<float>;

// Instantiated for float, F16Bits and BF16Bits (cuda_kernels.cu).
template <class T>
void launchStep(const StepParamsOf<T>& p, cudaStream_t stream);
// After the projection GEMM (hNext rows < active): copy active rows to the output, carry inactive rows.
template <class T>
void launchFinishProjected(const StepParamsOf<T>& p, cudaStream_t stream);
void launchCombineBias(CellKind kind, const float* bIh, const float* bHh, int H, float* biasX, float* biasHn,
                       cudaStream_t stream);
void launchDropout(float* data, int64_t n, float p, uint64_t seed, cudaStream_t stream);
void launchFill(float* data, int64_t n, float value, cudaStream_t stream);

}  // namespace rnn::cuda
