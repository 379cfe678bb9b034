// The CUDA runtime calls of this project's host code (declared by cuda_runtime_api.h) on the emulated device of
// emu.h, except memory (emu_memory.cpp): streams run their work as it is issued (which honours every dependency
// the code orders by events), or record it while captured; a graph replays what was recorded.
#include "emu.h"

#include <cstdio>
#include <mutex>

namespace emu {

namespace {

struct Stream {
  bool capturing = false;
  std::vector<std::function<void()>>* recording = nullptr;
};

struct Graph {
  std::vector<std::function<void()>> work;
};

thread_local cudaError_t tLastError = cudaSuccess;

}  // namespace

cudaError_t fail(cudaError_t e) {
  tLastError = e;
  return e;
}

void enqueue(cudaStream_t stream, std::function<void()> work) {
  Stream* s = reinterpret_cast<Stream*>(stream);
  if (s && s->capturing) s->recording->push_back(std::move(work));
  else work();
}

namespace {
std::mutex gBindersMutex;
std::map<const void*, BindArgs> gBinders;
}  // namespace

void registerBinder(const void* kernel, BindArgs bind) {
  std::lock_guard<std::mutex> lock(gBindersMutex);
  gBinders.emplace(kernel, std::move(bind));
}

// Null when the kernel was never registered.
std::function<void()> bindLaunch(const void* kernel, void** args) {
  BindArgs bind;
  {
    std::lock_guard<std::mutex> lock(gBindersMutex);
    auto found = gBinders.find(kernel);
    if (found == gBinders.end()) return nullptr;
    bind = found->second;
  }
  return bind(args);
}

Device& device() {
  static Device d;
  return d;
}

Counters& counters() {
  static Counters c;
  return c;
}

}  // namespace emu

extern "C" {
cudaError_t cudaGetLastError(void) {
  const cudaError_t e = emu::tLastError;
  emu::tLastError = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return emu::tLastError; }
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorCooperativeLaunchTooLarge: return "too many blocks in cooperative launch";
    default: return "emulated CUDA error";
  }
}
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : emu::fail(cudaErrorInvalidDevice); }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  std::memset(prop, 0, sizeof *prop);
  std::strcpy(prop->name, "Emulated GPU (scripts/cuda-emu)");
  prop->multiProcessorCount = emu::device().sms;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int) {
  switch (attr) {
    case cudaDevAttrCooperativeLaunch: *value = 1; break;
    case cudaDevAttrMultiProcessorCount: *value = emu::device().sms; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = emu::device().sharedOptin; break;
    default: return emu::fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaFuncSetAttribute(const void*, enum cudaFuncAttribute, int) { return cudaSuccess; }
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, const void*, int, size_t sharedBytes) {
  *numBlocks = sharedBytes <= size_t(emu::device().sharedOptin) ? 1 : 0;
  return cudaSuccess;
}
cudaError_t cudaLaunchCooperativeKernel(const void* func, dim3 grid, dim3 block, void** args, size_t sharedMem, cudaStream_t stream) {
  if (sharedMem > size_t(emu::device().sharedOptin) || grid.x > unsigned(emu::device().sms)) return emu::fail(cudaErrorCooperativeLaunchTooLarge);
  std::function<void()> call = emu::bindLaunch(func, args);
  if (!call) throw std::runtime_error("emu: cooperative launch of an unregistered kernel");
  emu::enqueue(stream, [=] { emu::runGrid(grid, block, sharedMem, true, call); });
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** p, size_t size, unsigned int) {
  *p = std::calloc(1, size);
  return *p ? cudaSuccess : emu::fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  *s = reinterpret_cast<cudaStream_t>(new emu::Stream());
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned int) { return cudaSuccess; }
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode) {
  emu::Stream* s = reinterpret_cast<emu::Stream*>(stream);
  if (!s || s->capturing) return emu::fail(cudaErrorInvalidValue);
  s->capturing = true;
  s->recording = &(new emu::Graph())->work;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  emu::Stream* s = reinterpret_cast<emu::Stream*>(stream);
  if (!s || !s->capturing) return emu::fail(cudaErrorInvalidValue);
  // the Graph is the struct whose first member is the recorded work
  *graph = reinterpret_cast<cudaGraph_t>(reinterpret_cast<emu::Graph*>(s->recording));
  s->capturing = false;
  s->recording = nullptr;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  *exec = reinterpret_cast<cudaGraphExec_t>(new emu::Graph(*reinterpret_cast<emu::Graph*>(graph)));
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  const emu::Graph* g = reinterpret_cast<const emu::Graph*>(exec);
  for (const auto& work : g->work) emu::enqueue(stream, work);
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete reinterpret_cast<emu::Graph*>(graph);
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete reinterpret_cast<emu::Graph*>(exec);
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = reinterpret_cast<cudaEvent_t>(new char);
  ++emu::counters().eventsCreated;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete reinterpret_cast<char*>(e);
  ++emu::counters().eventsDestroyed;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
}

