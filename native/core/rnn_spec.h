// What one call of a recurrent layer stack computes, and the memory it reads and writes.
// The binding fills these from JS; `validate` proves every pointer range is inside its buffer
// before any kernel runs, so native code never touches memory it was not given.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cell_kind.h"
#include "elem_type.h"

namespace rnn {

struct RnnSpec {
  CellKind kind = CellKind::Lstm;
  int inputSize = 0;
  int hiddenSize = 0;
  int projSize = 0;  // LSTM only; 0 = no projection
  int numLayers = 1;
  bool bidirectional = false;
  bool bias = true;
  bool batchFirst = false;  // input/output rows ordered [B, T] instead of [T, B]
  int seqLen = 0;           // T (for packed input: the longest sequence)
  int batch = 0;            // B (for packed input: the first batch size)
  // Packed input (PyTorch's PackedSequence): rows of step t are offset(t) .. offset(t)+batchSizes[t].
  std::vector<int> batchSizes;  // empty = not packed
  float dropout = 0.f;      // between layers, only when training
  bool training = false;
  uint64_t seed = 0;        // for dropout masks
  // Element type of every tensor of the call. Half types (CUDA only) keep the gate sums and the cell state in
  // float32 inside the backend; their spans' `data` then points at 2-byte elements.
  ElemType dtype = ElemType::F32;

  int directions() const { return bidirectional ? 2 : 1; }
  int outSize() const { return projSize > 0 ? projSize : hiddenSize; }
  int gates() const { return gateCount(kind); }
  int layerInputSize(int layer) const { return layer == 0 ? inputSize : directions() * outSize(); }
  bool packed() const { return !batchSizes.empty(); }
};

// A tensor's memory handed over from JS: pointer and element count. `data` is typed float* because the CPU and
// the float32 CUDA path use it as such; for float16/bfloat16 (`type`) it points at 2-byte elements and only the
// CUDA half path reads it (through raw()).
struct FloatSpan {
  float* data = nullptr;
  size_t size = 0;
  int device = -1;  // -1: host memory; otherwise the CUDA device that holds it
  ElemType type = ElemType::F32;
  void* raw() const { return data; }
};

// Per layer and direction, PyTorch's order: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr.
struct LayerWeights {
  const float* wIh = nullptr;
  const float* wHh = nullptr;
  const float* bIh = nullptr;  // null when bias=false
  const float* bHh = nullptr;
  const float* wHr = nullptr;  // null unless projSize > 0
  // A float32 or bfloat16 CPU call of a module made by optimizeForInference: the same weights already packed for
  // the step kernels (cpu/f32_prepack.h, cpu/bf16_prepack.h), checked by the binding; null otherwise.
  const uint8_t* prepacked = nullptr;
};

struct RnnIo {
  std::vector<FloatSpan> weights;  // flattened per layer-direction in the order above (biases/w_hr only if present)
  FloatSpan input;                 // rows x inputSize
  FloatSpan h0, c0;                // optional (size 0 = zeros): [L*D, B, outSize] / [L*D, B, hiddenSize]
  FloatSpan output;                // rows x D*outSize
  FloatSpan hN, cN;                // [L*D, B, outSize] / [L*D, B, hiddenSize] (cN only for LSTM)
  FloatSpan saved;                 // optional: what backward needs (see rnn_saved.h); size 0 = not saved
  // optional (empty = none): per layer-direction, the weights packed once (float32 / bfloat16 LSTM / GRU forward on
  // the CPU)
  std::vector<FloatSpan> prepacked;
};

// Row index of (step t, batch entry b) in input and output: both share one layout.
struct SeqLayout {
  std::vector<int64_t> rowBase;  // per step
  std::vector<int> batchSizes;   // per step (all B when not packed)
  int64_t strideB = 1;
  int64_t rows = 0;

  static SeqLayout of(const RnnSpec& spec);
  int64_t row(int t, int b) const { return rowBase[t] + b * strideB; }
};

size_t weightsPerLayerDirection(const RnnSpec& spec);
// Checks the spec's own consistency and that every buffer has exactly the size the spec implies.
// Returns an empty string when valid, else a message for a JS RangeError.
std::string validate(const RnnSpec& spec, const RnnIo& io);
std::vector<LayerWeights> layerWeights(const RnnSpec& spec, const RnnIo& io);

}  // namespace rnn
