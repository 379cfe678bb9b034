// Unidirectional stacks (and single layers at large batch) whose per-step GEMMs are too small to fill the GPU:
// time is cut into chunks and each layer gets two streams of its own (lanes), one for the input projection of
// a chunk, one for the chunk's steps. Chunk c of layer l waits only for chunk c of layer l - 1 and for its own
// projection, so the layers' time loops run as a wavefront and the projection of the next chunk overlaps the
// steps of this one, where the one-stream loop runs layer after layer and projects a whole layer before its
// first step. The same GEMMs and step kernel as that loop (cuda_backend.cpp), so the same results.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "../core/rnn_saved.h"
#include "cuda_backend.h"
#include "cuda_fused_step.h"
#include "cuda_kernels.h"
#include "cuda_persistent_step.h"

namespace rnn::cuda {

namespace {

constexpr int kTargetChunks = 10;
constexpr int kMinChunkSteps = 4;
constexpr int kLayerLanes = kMaxLanes / 2;  // layers beyond this share lanes (only adds false dependencies)

bool pipelineEnabled() {
  static const bool enabled = switchedOn("NODE_RNN_CUDA_PIPELINE");
  return enabled;
}

// The events of one call; destroying an event whose work is still pending is allowed (it completes normally).
class Events {
 public:
  Events() = default;
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
  ~Events() {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
  }
  cudaEvent_t record(cudaStream_t stream) {
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    events_.push_back(e);
    check(cudaEventRecord(e, stream), "cudaEventRecord");
    return e;
  }

 private:
  std::vector<cudaEvent_t> events_;
};

void waitFor(cudaStream_t stream, cudaEvent_t event) { check(cudaStreamWaitEvent(stream, event, 0), "cudaStreamWaitEvent"); }

struct Chunk {
  int s0, s1;      // steps [s0, s1)
  int64_t r0, r1;  // their rows [r0, r1): contiguous in a time-major or packed layout
};

}  // namespace

bool pipelinedForwardSuits(int device, const RnnSpec& spec) {
  if (!pipelineEnabled() || spec.dtype != ElemType::F32 || spec.bidirectional) return false;
  if (spec.training && spec.dropout > 0.f && spec.numLayers > 1) return false;  // masks are drawn per whole layer
  const SeqLayout layout = SeqLayout::of(spec);
  const int T = int(layout.batchSizes.size());
  if (layout.strideB != 1 || T < 2 * kMinChunkSteps) return false;
  const int B = layout.batchSizes[0], H = spec.hiddenSize, P = spec.outSize();
  if (B < 32 || (spec.numLayers < 2 && B < 64)) return false;
  const bool proj = spec.projSize > 0;
  // the persistent loop holds the whole GPU, and the fused step is for batches where a GEMM is not worth it
  return !planPersistentStep(device, spec.kind, B, H, P, proj).use && !planFusedStep(spec.kind, B, H, P, proj).use;
}

bool rnnForwardPipelined(CudaBackend& be, const RnnSpec& spec, const RnnIo& io) {
  Context& ctx = be.ctx();
  if (!pipelinedForwardSuits(ctx.device, spec)) return false;
  const SeqLayout layout = SeqLayout::of(spec);
  const std::vector<LayerWeights> weights = layerWeights(spec, io);
  const int T = int(layout.batchSizes.size()), B = layout.batchSizes[0], L = spec.numLayers;
  const int H = spec.hiddenSize, P = spec.outSize(), G = spec.gates(), GH = G * H;
  const bool lstm = hasCellState(spec.kind), proj = spec.projSize > 0;
  const int64_t layerOut = layout.rows * P;

  const int chunkSteps = std::max(kMinChunkSteps, (T + kTargetChunks - 1) / kTargetChunks);
  std::vector<Chunk> chunks;
  int64_t maxChunkRows = 0;
  for (int s0 = 0; s0 < T; s0 += chunkSteps) {
    const int s1 = std::min(T, s0 + chunkSteps);
    const Chunk c{s0, s1, layout.rowBase[s0], layout.rowBase[s1 - 1] + layout.batchSizes[s1 - 1]};
    maxChunkRows = std::max(maxChunkRows, c.r1 - c.r0);
    chunks.push_back(c);
  }
  const int C = int(chunks.size());

  // When saving for backward, layer l writes straight into the saved input of layer l + 1 (as rnn_driver.h does).
  float* saved = io.saved.data;
  const SavedLayout savedLayout = saved ? SavedLayout::of(spec) : SavedLayout{};
  DeviceScratch between = be.scratch(saved ? 0 : size_t(L - 1) * layerOut);
  DeviceScratch xg = be.scratch(size_t(L) * 2 * maxChunkRows * GH);  // two chunk slots per layer
  DeviceScratch hg = be.scratch(size_t(L) * B * GH);
  DeviceScratch spare = be.scratch(size_t(L) * B * P);
  DeviceScratch full = be.scratch(proj ? size_t(L) * B * H : 0);
  DeviceScratch bias = be.scratch(size_t(L) * (GH + H));

  struct LayerState {
    const float* input;
    int inputSize;
    float* output;
    float *hCur, *hNext, *hN, *c;
    float *biasX, *biasHn, *hg, *full, *xg;
    SavedPointers keep;
  };
  std::vector<LayerState> layers(static_cast<size_t>(L));
  for (int l = 0; l < L; ++l) {
    LayerState& s = layers[size_t(l)];
    s.input = l == 0 ? io.input.data : layers[size_t(l - 1)].output;
    s.inputSize = spec.layerInputSize(l);
    s.output = l == L - 1 ? io.output.data : saved ? saved + savedLayout.layerInput[l + 1] : between.data() + l * layerOut;
    s.hN = io.hN.data + size_t(l) * B * P;
    s.hCur = s.hN;
    s.hNext = spare.data() + size_t(l) * B * P;
    s.c = lstm ? io.cN.data + size_t(l) * B * H : nullptr;
    s.biasX = bias.data() + size_t(l) * (GH + H);
    s.biasHn = s.biasX + GH;
    s.hg = hg.data() + size_t(l) * B * GH;
    s.full = proj ? full.data() + size_t(l) * B * H : nullptr;
    s.xg = xg.data() + size_t(l) * 2 * maxChunkRows * GH;
    if (saved) {
      const SavedDirection& at = savedLayout.directions[size_t(l)];
      s.keep = {saved + at.gates, saved + at.hPrev, lstm ? saved + at.cPrev : nullptr, proj ? saved + at.hFull : nullptr,
                savedLayout.savedBlocks};
    }
    // initial states and folded biases on the main stream; the lanes start after them
    if (io.h0.data) be.copy(s.hN, io.h0.data + size_t(l) * B * P, size_t(B) * P);
    else be.zero(s.hN, size_t(B) * P);
    if (lstm) {
      if (io.c0.data) be.copy(s.c, io.c0.data + size_t(l) * B * H, size_t(B) * H);
      else be.zero(s.c, size_t(B) * H);
    }
    const LayerWeights& w = weights[size_t(l)];
    if (w.bIh) {
      launchCombineBias(spec.kind, w.bIh, w.bHh, H, s.biasX, s.biasHn, ctx.stream);
      if (spec.kind != CellKind::Gru) be.zero(s.biasHn, size_t(H));
    } else {
      be.zero(s.biasX, size_t(GH) + H);
    }
  }

  const int lanesUsed = 2 * std::min(L, kLayerLanes);
  Events events;
  try {
    const cudaEvent_t fork = events.record(ctx.stream);
    for (int i = 0; i < lanesUsed; ++i) {
      Lane& ln = lane(ctx, i);
      waitFor(ln.stream, fork);
      // even lanes project whole chunks (TF32 allowed under 'high'), odd lanes run the steps (TF32 only where
      // a step is throughput-bound, as in the one-stream loop)
      setBlasMath(ln.blas, allowTf32() && (i % 2 == 0 || !latencyBoundStep(spec.kind, B, H, P)));
    }
    std::vector<cudaEvent_t> done(size_t(L) * C, nullptr);
    // wavefront order, so every event a stream waits for has been recorded (in host order) before the wait
    for (int wave = 0; wave < C + L - 1; ++wave) {
      for (int l = 0; l < L; ++l) {
        const int c = wave - l;
        if (c < 0 || c >= C) continue;
        LayerState& s = layers[size_t(l)];
        const Chunk& k = chunks[size_t(c)];
        const LayerWeights& w = weights[size_t(l)];
        Lane& projector = lane(ctx, 2 * (l % kLayerLanes));
        Lane& stepper = lane(ctx, 2 * (l % kLayerLanes) + 1);
        float* slot = s.xg + size_t(c % 2) * maxChunkRows * GH;
        if (l > 0) waitFor(projector.stream, done[size_t(l - 1) * C + c]);
        if (c >= 2) waitFor(projector.stream, done[size_t(l) * C + c - 2]);  // the slot's previous chunk has been stepped
        blasGemmNT(projector.blas, int(k.r1 - k.r0), GH, s.inputSize, s.input + k.r0 * s.inputSize, s.inputSize, w.wIh,
                   s.inputSize, slot, GH);
        waitFor(stepper.stream, events.record(projector.stream));
        for (int t = k.s0; t < k.s1; ++t) {
          const int bs = layout.batchSizes[t];
          blasGemmNT(stepper.blas, bs, GH, P, s.hCur, P, w.wHh, P, s.hg, GH);
          StepParams p{spec.kind, B, bs, H, P, slot, layout.rowBase[t], layout.strideB, s.hg, s.biasX, s.biasHn,
                       s.hCur, s.hNext, s.full, s.c, s.output, P,
                       s.keep.gates, s.keep.blocks, s.keep.hPrev, s.keep.cPrev, s.keep.hFull};
          p.xgRow0 = k.r0;
          launchStep(p, stepper.stream);
          if (proj) {
            blasGemmNT(stepper.blas, bs, P, H, s.full, H, w.wHr, H, s.hNext, P);
            launchFinishProjected(p, stepper.stream);
          }
          check(cudaGetLastError(), "step kernel launch");
          std::swap(s.hCur, s.hNext);
        }
        if (c == C - 1 && s.hCur != s.hN) {
          check(cudaMemcpyAsync(s.hN, s.hCur, size_t(B) * P * sizeof(float), cudaMemcpyDeviceToDevice, stepper.stream), "cudaMemcpyAsync");
        }
        done[size_t(l) * C + c] = events.record(stepper.stream);
      }
    }
    // join: the main stream (which the caller synchronises, and on which the scratch is freed) waits for every lane
    for (int l = 0; l < L; ++l) waitFor(ctx.stream, done[size_t(l) * C + C - 1]);
  } catch (...) {
    // nothing may still run on this call's memory once it is freed
    for (int i = 0; i < int(ctx.lanes.size()); ++i) cudaStreamSynchronize(ctx.lanes[size_t(i)].stream);
    throw;
  }
  return true;
}

}  // namespace rnn::cuda
