// Whole forwards captured into CUDA graphs and replayed. At small batch a step is a few microseconds
// of GPU work but costs two or three kernel launches from the host; a graph replays all T steps with
// one launch. A graph is tied to memory addresses, so each cached graph owns its own input, state,
// output and scratch buffers: a call copies its input and initial state in, replays the graph and
// copies the results out (device-to-device copies, a small cost next to T launches). The cache key
// holds every shape, flag and weight address the graph depends on, so a hit computes exactly what a
// direct run would: a graph reads the weights from their current memory.
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory>

#include "cuda_backend.h"

namespace rnn::cuda {

namespace {

constexpr size_t kMaxEntryBytes = size_t(256) << 20;  // larger problems are not launch-bound
constexpr size_t kMaxCacheBytes = size_t(1) << 30;
constexpr size_t kMaxEntries = 16;

struct GraphEntry {
  std::vector<int64_t> key;
  std::vector<void*> memory;  // every buffer the graph uses
  size_t bytes = 0;
  float *input = nullptr, *h0 = nullptr, *c0 = nullptr, *output = nullptr, *hN = nullptr, *cN = nullptr;
  cudaGraphExec_t exec = nullptr;

  GraphEntry() = default;
  GraphEntry(const GraphEntry&) = delete;
  GraphEntry& operator=(const GraphEntry&) = delete;
  ~GraphEntry() {
    if (exec) cudaGraphExecDestroy(exec);
    for (void* p : memory) cudaFree(p);
    cudaGetLastError();
  }
  float* allocate(size_t floats) {
    if (floats == 0) return nullptr;
    void* p = nullptr;
    check(cudaMalloc(&p, floats * sizeof(float)), "cudaMalloc");
    memory.push_back(p);
    return static_cast<float*>(p);
  }
};

struct GraphCache {
  std::list<std::unique_ptr<GraphEntry>> entries;  // most recently used first
  size_t bytes = 0;
};

// Per thread (a graph's buffers must not be shared by two calls running at once) and per device.
GraphCache& cacheFor(int device) {
  thread_local std::map<int, GraphCache>& caches = *new std::map<int, GraphCache>();
  return caches[device];
}

std::vector<int64_t> keyOf(const RnnSpec& spec, const RnnIo& io) {
  std::vector<int64_t> key{int64_t(spec.kind), spec.inputSize, spec.hiddenSize, spec.projSize, spec.numLayers,
                           spec.bidirectional, spec.bias, spec.batchFirst, spec.seqLen, spec.batch,
                           io.h0.data != nullptr, io.c0.data != nullptr, allowTf32(), int64_t(spec.batchSizes.size())};
  key.insert(key.end(), spec.batchSizes.begin(), spec.batchSizes.end());
  for (const FloatSpan& w : io.weights) key.push_back(reinterpret_cast<int64_t>(w.data));
  return key;
}

size_t estimateBytes(const RnnSpec& spec, const RnnIo& io) {
  const size_t rows = io.input.size / size_t(spec.inputSize);
  const size_t GH = size_t(spec.gates()) * spec.hiddenSize, B = spec.batch;
  const size_t layerOut = io.output.size;
  const size_t floats = io.input.size + io.h0.size + io.c0.size + io.output.size + io.hN.size + io.cN.size +
                        rows * GH + B * GH + B * spec.outSize() + B * spec.hiddenSize + GH + spec.hiddenSize +
                        (spec.numLayers > 1 ? 2 * layerOut : 0);
  return floats * sizeof(float);
}

void copyIn(Context& ctx, float* dst, const FloatSpan& src) {
  if (src.data) check(cudaMemcpyAsync(dst, src.data, src.size * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream), "cudaMemcpyAsync");
}

void copyOut(Context& ctx, const FloatSpan& dst, const float* src) {
  if (dst.data) check(cudaMemcpyAsync(dst.data, src, dst.size * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream), "cudaMemcpyAsync");
}

std::unique_ptr<GraphEntry> capture(CudaBackend& be, const RnnSpec& spec, const RnnIo& io, std::vector<int64_t> key, size_t bytes) {
  auto entry = std::make_unique<GraphEntry>();
  entry->key = std::move(key);
  entry->bytes = bytes;
  entry->input = entry->allocate(io.input.size);
  entry->h0 = entry->allocate(io.h0.size);
  entry->c0 = entry->allocate(io.c0.size);
  entry->output = entry->allocate(io.output.size);
  entry->hN = entry->allocate(io.hN.size);
  entry->cN = entry->allocate(io.cN.size);
  RnnIo inner = io;
  inner.input.data = entry->input;
  inner.h0.data = entry->h0;
  inner.c0.data = entry->c0;
  inner.output.data = entry->output;
  inner.hN.data = entry->hN;
  inner.cN.data = entry->cN;

  Context& ctx = be.ctx();
  check(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
  be.captureInto(&entry->memory);
  cudaGraph_t graph = nullptr;
  try {
    rnnForward(be, spec, inner);
  } catch (...) {
    be.captureInto(nullptr);
    cudaStreamEndCapture(ctx.stream, &graph);
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    throw;
  }
  be.captureInto(nullptr);
  check(cudaStreamEndCapture(ctx.stream, &graph), "cudaStreamEndCapture");
  const cudaError_t status = cudaGraphInstantiate(&entry->exec, graph, 0);
  cudaGraphDestroy(graph);
  check(status, "cudaGraphInstantiate");
  return entry;
}

}  // namespace

bool rnnForwardGraph(CudaBackend& be, const RnnSpec& spec, const RnnIo& io) {
  // NODE_RNN_CUDA_GRAPHS=0 turns graphs off (the GPU check runs the CUDA tests both ways)
  static const bool enabled = switchedOn("NODE_RNN_CUDA_GRAPHS");
  if (!enabled) return false;
  if (spec.training && spec.dropout > 0.f && spec.numLayers > 1) return false;  // a fresh mask every call
  // a recording forward writes the caller's saved workspace, which a cached graph does not own; such
  // calls precede a backward that costs more than the launches anyway
  if (io.saved.data) return false;
  // a persistent time loop is already one launch per layer-direction; a graph would only add the copies in and out
  if (planPersistentStep(be.ctx().device, spec.kind, spec.batch, spec.hiddenSize, spec.outSize(), spec.projSize > 0).use) return false;
  const size_t bytes = estimateBytes(spec, io);
  if (bytes > kMaxEntryBytes) return false;
  Context& ctx = be.ctx();
  GraphCache& cache = cacheFor(ctx.device);
  std::vector<int64_t> key = keyOf(spec, io);

  auto found = cache.entries.begin();
  while (found != cache.entries.end() && (*found)->key != key) ++found;
  if (found != cache.entries.end()) {
    cache.entries.splice(cache.entries.begin(), cache.entries, found);
  } else {
    while (!cache.entries.empty() && (cache.entries.size() >= kMaxEntries || cache.bytes + bytes > kMaxCacheBytes)) {
      cache.bytes -= cache.entries.back()->bytes;
      cache.entries.pop_back();
    }
    cache.entries.push_front(capture(be, spec, io, std::move(key), bytes));
    cache.bytes += bytes;
  }

  GraphEntry& entry = *cache.entries.front();
  copyIn(ctx, entry.input, io.input);
  copyIn(ctx, entry.h0, io.h0);
  copyIn(ctx, entry.c0, io.c0);
  check(cudaGraphLaunch(entry.exec, ctx.stream), "cudaGraphLaunch");
  copyOut(ctx, io.output, entry.output);
  copyOut(ctx, io.hN, entry.hN);
  copyOut(ctx, io.cN, entry.cN);
  return true;
}

}  // namespace rnn::cuda
