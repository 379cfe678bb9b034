// The pipelined forward (native/cuda/cuda_pipelined_forward.cpp) on the emulated device of emu.h, against the
// one-stream loop of the same backend (rnn_driver.h over CudaBackend::recurrence, the path the GPU tests have
// verified): time chunks, the two projection slots per layer, xgRow0, layer wiring (saved inputs when
// recording), h_n, lanes shared by layers past the fourth, every event destroyed; and when the path is (not)
// chosen. The emulated streams run their work when it is issued, so this proves the bookkeeping, not the
// concurrency (the GPU check does that). The step kernels run on the host through stepUnit.
#include "emu.h"

#include <cstdio>
#include <random>
#include <string>

#include "../../native/cuda/cuda_backend.h"
#include "../../native/cuda/cuda_cell_step.cuh"
#include "../../native/cuda/cuda_fused_step.h"

namespace rnn::cuda {

// The element-wise kernels of cuda_kernels.cu, as host loops over the same per-unit code.
template <class T>
void launchStep(const StepParamsOf<T>& p, cudaStream_t) {
  const int H = p.hidden, G = gateCount(p.kind);
  for (int b = 0; b < p.batch; ++b) {
    for (int j = 0; j < H; ++j) {
      const float* hg = p.hg + int64_t(b) * G * H + j;
      stepUnit(p, b, j, [&](int g) { return hg[g * H]; });
    }
  }
}
template void launchStep<float>(const StepParamsOf<float>&, cudaStream_t);

template <class T>
void launchFinishProjected(const StepParamsOf<T>& p, cudaStream_t) {
  const int P = p.outSize;
  for (int64_t idx = 0; idx < int64_t(p.batch) * P; ++idx) {
    const int b = int(idx / P), k = int(idx % P);
    if (b >= p.active) p.hNext[idx] = p.hCur[idx];
    else p.output[(p.rowBase + b * p.strideB) * p.outputStride + k] = p.hNext[idx];
  }
}
template void launchFinishProjected<float>(const StepParamsOf<float>&, cudaStream_t);

void launchCombineBias(CellKind kind, const float* bIh, const float* bHh, int H, float* biasX, float* biasHn, cudaStream_t) {
  const int G = gateCount(kind);
  for (int j = 0; j < G * H; ++j) {
    if (kind == CellKind::Gru && j >= 2 * H) {
      biasX[j] = bIh[j];
      biasHn[j - 2 * H] = bHh[j];
    } else {
      biasX[j] = bIh[j] + bHh[j];
    }
  }
}
void launchDropout(float*, int64_t, float, uint64_t, cudaStream_t) { throw std::runtime_error("emu: dropout not expected"); }
void launchFill(float* data, int64_t n, float value, cudaStream_t) { std::fill(data, data + n, value); }

// No fused step and no graphs on the emulated device: the one-stream loop is cuBLAS + the step kernel.
bool latencyBoundStep(CellKind, int batch, int, int) { return batch <= 64; }
FusedStepPlan planFusedStep(CellKind, int, int, int, bool) { return FusedStepPlan{}; }
cudaError_t prepareFusedStep(int) { return cudaSuccess; }
void launchFusedStep(const StepParams&, const float*, const FusedStepPlan&, cudaStream_t) { throw std::runtime_error("emu: no fused step"); }
bool rnnForwardGraph(CudaBackend&, const RnnSpec&, const RnnIo&) { return false; }

}  // namespace rnn::cuda

using namespace rnn;
using namespace rnn::cuda;

namespace {

std::mt19937 gen(7);
int failures = 0;

std::vector<float> randoms(size_t n) {
  std::uniform_real_distribution<float> d(-0.5f, 0.5f);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

double relError(const float* a, const float* b, size_t n) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < n; ++i) {
    diff += double(a[i] - b[i]) * double(a[i] - b[i]);
    norm += double(b[i]) * double(b[i]);
  }
  if (diff != diff) return 1e30;
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

void expect(const std::string& what, bool ok) {
  if (!ok) ++failures;
  std::printf("  %-60s %s\n", what.c_str(), ok ? "ok" : "FAILED");
}

void expectSame(const std::string& what, const std::vector<float>& got, const std::vector<float>& want) {
  const double e = relError(got.data(), want.data(), want.size());
  const bool ok = got.size() == want.size() && e <= 1e-6;
  if (!ok) ++failures;
  std::printf("  %-60s rel err %.1e %s\n", what.c_str(), e, ok ? "ok" : "FAILED");
}

// One call's buffers, built for a spec; `recording` adds the saved workspace.
struct Call {
  RnnSpec spec;
  std::vector<std::vector<float>> weights;
  std::vector<float> input, h0, c0, output, hN, cN, saved;
  RnnIo io() {
    RnnIo io;
    for (auto& w : weights) io.weights.push_back(FloatSpan{w.data(), w.size(), 0});
    io.input = FloatSpan{input.data(), input.size(), 0};
    if (!h0.empty()) io.h0 = FloatSpan{h0.data(), h0.size(), 0};
    if (!c0.empty()) io.c0 = FloatSpan{c0.data(), c0.size(), 0};
    io.output = FloatSpan{output.data(), output.size(), 0};
    io.hN = FloatSpan{hN.data(), hN.size(), 0};
    if (!cN.empty()) io.cN = FloatSpan{cN.data(), cN.size(), 0};
    if (!saved.empty()) io.saved = FloatSpan{saved.data(), saved.size(), 0};
    return io;
  }
};

Call makeCall(const RnnSpec& spec, bool withStates, bool recording) {
  Call c;
  c.spec = spec;
  const int L = spec.numLayers, H = spec.hiddenSize, P = spec.outSize(), GH = spec.gates() * H;
  const int64_t rows = SeqLayout::of(spec).rows;
  for (int l = 0; l < L; ++l) {
    const int in = spec.layerInputSize(l);
    c.weights.push_back(randoms(size_t(GH) * in));
    c.weights.push_back(randoms(size_t(GH) * P));
    if (spec.bias) {
      c.weights.push_back(randoms(size_t(GH)));
      c.weights.push_back(randoms(size_t(GH)));
    }
    if (spec.projSize > 0) c.weights.push_back(randoms(size_t(P) * H));
  }
  c.input = randoms(size_t(rows) * spec.inputSize);
  const bool lstm = hasCellState(spec.kind);
  if (withStates) {
    c.h0 = randoms(size_t(L) * spec.batch * P);
    if (lstm) c.c0 = randoms(size_t(L) * spec.batch * H);
  }
  c.output.assign(size_t(rows) * P, 0.f);
  c.hN.assign(size_t(L) * spec.batch * P, 0.f);
  if (lstm) c.cN.assign(size_t(L) * spec.batch * H, 0.f);
  if (recording) c.saved.assign(SavedLayout::of(spec).total, 0.f);
  return c;
}

RnnSpec specOf(CellKind kind, int I, int H, int proj, int L, int T, int B, std::vector<int> sizes = {}) {
  RnnSpec s;
  s.kind = kind;
  s.inputSize = I;
  s.hiddenSize = H;
  s.projSize = proj;
  s.numLayers = L;
  s.seqLen = T;
  s.batch = B;
  s.batchSizes = std::move(sizes);
  return s;
}

void runCase(const char* name, const RnnSpec& spec, bool withStates, bool recording) {
  std::printf("%s\n", name);
  expect("the pipelined forward suits this call", pipelinedForwardSuits(0, spec));
  Call piped = makeCall(spec, withStates, recording);
  Call plain = piped;  // same weights and inputs
  CudaBackend a(0), b(0);  // the context (and its own event) exists before counting
  const long created = emu::counters().eventsCreated, destroyed = emu::counters().eventsDestroyed;
  expect("rnnForwardPipelined ran", rnnForwardPipelined(a, spec, piped.io()));
  expect("every event it created was destroyed", emu::counters().eventsCreated > created &&
                                                     emu::counters().eventsCreated - created == emu::counters().eventsDestroyed - destroyed);
  rnnForward(b, spec, plain.io());
  expectSame("output", piped.output, plain.output);
  expectSame("h_n", piped.hN, plain.hN);
  if (!plain.cN.empty()) expectSame("c_n", piped.cN, plain.cN);
  if (recording) expectSame("saved workspace (inputs of every layer, gates, states)", piped.saved, plain.saved);
}

}  // namespace

int main() {
  emu::device() = emu::Device{0, 0};  // no SMs: the persistent loop never applies here
  runCase("LSTM, 3 layers, B=32, T=12, with h0/c0", specOf(CellKind::Lstm, 5, 6, 0, 3, 12, 32), true, false);
  std::vector<int> sizes;
  for (int t = 0; t < 11; ++t) sizes.push_back(33 - 2 * t);
  runCase("LSTM with projections, 2 layers, packed (33 down to 13 rows), recording", specOf(CellKind::Lstm, 4, 8, 3, 2, 11, 33, sizes),
          false, true);
  runCase("GRU, 6 layers (lanes shared past the fourth), T=9, recording", specOf(CellKind::Gru, 3, 5, 0, 6, 9, 32), true, true);
  runCase("RNN tanh, one layer at B=64, T=17 (4-step chunks)", specOf(CellKind::RnnTanh, 7, 9, 0, 1, 17, 64), false, false);
  runCase("RNN relu, 2 layers, T=40 (a chunk per 4 steps)", specOf(CellKind::RnnRelu, 3, 4, 0, 2, 40, 32), true, false);

  std::printf("when the pipelined forward is not chosen\n");
  RnnSpec s = specOf(CellKind::Lstm, 5, 6, 0, 2, 12, 32);
  expect("the base case suits", pipelinedForwardSuits(0, s));
  RnnSpec t = s;
  t.bidirectional = true;
  expect("bidirectional: no", !pipelinedForwardSuits(0, t));
  t = s;
  t.batchFirst = true;
  expect("batch-first rows (a step's rows are not contiguous): no", !pipelinedForwardSuits(0, t));
  t = s;
  t.batch = 31;
  expect("B < 32: no", !pipelinedForwardSuits(0, t));
  t = s;
  t.numLayers = 1;
  expect("one layer below B = 64: no", !pipelinedForwardSuits(0, t));
  t = s;
  t.seqLen = 7;
  expect("fewer than 8 steps: no", !pipelinedForwardSuits(0, t));
  t = s;
  t.training = true;
  t.dropout = 0.5f;
  expect("training with dropout between layers: no", !pipelinedForwardSuits(0, t));
  t = s;
  t.dtype = ElemType::BF16;
  expect("half precision: no", !pipelinedForwardSuits(0, t));

  if (failures) {
    std::printf("%d check(s) FAILED\n", failures);
    return 1;
  }
  std::printf("all pipelined-forward checks passed\n");
  return 0;
}
