// Node-API entry points. Sync and async forward run the same job; async runs it on the libuv pool.
#include "napi_config.h"

#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>

#include "../cpu/bf16_forward.h"
#include "../cpu/cpu_backend.h"
#include "../cpu/host_pages.h"
#include "../cpu/int8_forward.h"
#include "../cpu/int8_pack.h"
#include "../cpu/simd_level.h"
#include "../cpu/layer_stack.h"
#include "blas_binding.h"
#include "contract_binding.h"
#include "cuda_binding.h"
#include "forward_args.h"
#include "int8_binding.h"
#include "optim_binding.h"
#include "prepack_binding.h"
#include "tensor_ops_binding.h"

#ifdef RNN_WITH_CUDA
#include "../cuda/cuda_backend.h"
#include "../cuda/cuda_context.h"
#endif

extern "C" {
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace rnn::binding {

namespace {

void runJob(const ForwardJob& job) {
  if (job.device < 0) {
    cpu::adviseHugePages(job.io.output.data, job.io.output.size * elemSize(job.io.output.type));
    cpu::adviseHugePages(job.io.saved.data, job.io.saved.size * sizeof(float));  // a recording forward's activations
    if (job.spec.dtype == ElemType::BF16) cpu::rnnForwardCpuBf16(job.spec, job.io);
    else if (job.spec.dtype == ElemType::I8) cpu::rnnForwardCpuInt8(job.spec, job.io);
    else cpu::rnnForwardCpu(job.spec, job.io);
    return;
  }
#ifdef RNN_WITH_CUDA
  if (isHalf(job.spec.dtype)) cuda::rnnForwardCudaHalf(job.spec, job.io, job.device);
  else cuda::rnnForwardCuda(job.spec, job.io, job.device);
#else
  throw std::runtime_error("node-rnn was built without CUDA");
#endif
}

Napi::Value Forward(const Napi::CallbackInfo& info) {
  ForwardJob job = unpackForward(info, false);
  try {
    runJob(job);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("rnn forward failed: ") + e.what());
  }
  return info.Env().Undefined();
}

class ForwardWorker : public Napi::AsyncWorker {
 public:
  ForwardWorker(Napi::Env env, ForwardJob job)
      : Napi::AsyncWorker(env, "node-rnn:forward"), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      runJob(job_);
    } catch (const std::exception& e) {
      SetError(std::string("rnn forward failed: ") + e.what());
    }
  }
  // A worker_thread terminated while this job ran: its environment is torn down after the job finishes, and this
  // runs during the teardown, when Node-API refuses to settle the promise (nobody is left to tell). OnOK/OnError
  // drop that error; napi_config.h makes node-addon-api drop any other it cannot throw to JS. This catch is the
  // last backstop, because an exception escaping from a libuv callback aborts the whole process; a base that
  // throws has not reached its own Destroy() yet.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    try {
      Napi::AsyncWorker::OnWorkComplete(env, status);
    } catch (const Napi::Error&) {
      Destroy();  // the base threw before reaching its own Destroy()
    }
  }
  void OnOK() override {
    try {
      deferred_.Resolve(Env().Undefined());
    } catch (const Napi::Error&) {
    }
  }
  void OnError(const Napi::Error& error) override {
    try {
      deferred_.Reject(error.Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  ForwardJob job_;  // holds references to every array until the worker is destroyed
  Napi::Promise::Deferred deferred_;
};

void runBackward(const ForwardJob& job) {
  if (job.device < 0) {
    cpu::adviseHugePages(job.grads.gradInput.data, job.grads.gradInput.size * sizeof(float));
    cpu::rnnBackwardCpu(job.spec, job.io, job.grads);
    return;
  }
#ifdef RNN_WITH_CUDA
  cuda::rnnBackwardCuda(job.spec, job.io, job.grads, job.device);
#else
  throw std::runtime_error("node-rnn was built without CUDA");
#endif
}

Napi::Value Backward(const Napi::CallbackInfo& info) {
  ForwardJob job = unpackBackward(info, false);
  try {
    runBackward(job);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("rnn backward failed: ") + e.what());
  }
  return info.Env().Undefined();
}

Napi::Value ForwardAsync(const Napi::CallbackInfo& info) {
  ForwardJob job = unpackForward(info, true);
#ifdef RNN_WITH_CUDA
  // The tensor ops queue their kernels on this thread's stream without waiting; the pool thread runs the forward
  // on a stream of its own, so the input they produced must be complete first.
  if (job.device >= 0) {
    try {
      cuda::synchronize(cuda::context(job.device));
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("rnn forward failed: ") + e.what());
    }
  }
#endif
  auto* worker = new ForwardWorker(info.Env(), std::move(job));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "setNumThreads: expected a number");
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: expected a positive integer");
  cpu::setNumThreads(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cpu::getNumThreads());
}

Napi::Value BlasInfo(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("config", openblas_get_config());
  result.Set("core", openblas_get_corename());
  return result;
}

// Which CPU kernels run (tests and benchmarks report it): the instruction-set level after NODE_RNN_SIMD, whether
// the bfloat16 kernels use VDPBF16PS, and the int8 kernels' family (vnni: VPDPBUSD; avx512, avx2, base: int16 pairs).
Napi::Value CpuKernels(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
  const int level = cpu::simdLevel();
  result.Set("level", level == 2 ? "avx512" : level == 1 ? "avx2" : "base");
  result.Set("bf16Dot", cpu::bf16Dot());
  const char* int8Names[] = {"base", "avx2", "avx512", "vnni"};
  result.Set("int8", int8Names[int(cpu::int8Family())]);
  result.Set("layerStacks", double(cpu::layerStackCount().load()));
  result.Set("directionPairs", double(cpu::directionPairCount().load()));
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag tuned;
  std::call_once(tuned, cpu::keepFreedMemory);
  exports.Set("rnnForward", Napi::Function::New(env, Forward, "rnnForward"));
  exports.Set("rnnForwardAsync", Napi::Function::New(env, ForwardAsync, "rnnForwardAsync"));
  exports.Set("rnnBackward", Napi::Function::New(env, Backward, "rnnBackward"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("blasInfo", Napi::Function::New(env, BlasInfo, "blasInfo"));
  exports.Set("cpuKernels", Napi::Function::New(env, CpuKernels, "cpuKernels"));
  RegisterCuda(env, exports);
  RegisterBlas(env, exports);
  RegisterContract(env, exports);
  RegisterOptim(env, exports);
  RegisterTensorOps(env, exports);
  RegisterInt8(env, exports);
  RegisterPrepack(env, exports);
  return exports;
}

}  // namespace

}  // namespace rnn::binding

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return rnn::binding::Init(env, exports); }

NODE_API_MODULE(node_rnn, InitAddon)
