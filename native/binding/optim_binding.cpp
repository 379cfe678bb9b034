// Optimizer steps on CUDA parameters: lib/optim calls these instead of downloading a parameter, its gradient and
// its state, updating them in JS and uploading them again. Every buffer must be a live DeviceBuffer of the same
// length and device (lib/optim checks shapes and devices first; this is the backstop). A CPU-only build throws.
#include "optim_binding.h"

#include <string>
#include <vector>

#include "device_args.h"
#include "device_buffer.h"

#ifdef RNN_WITH_CUDA
#include "../cuda/cuda_context.h"
#include "../cuda/cuda_optim_kernels.h"
#endif

namespace rnn::binding {

namespace {

[[maybe_unused]] float number(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().FloatValue();
}

[[maybe_unused]] bool flag(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// Same length and device for every given buffer; returns the device.
[[maybe_unused]] int sameShape(Napi::Env env, const std::vector<DeviceBuffer*>& buffers) {
  const DeviceBuffer* first = buffers[0];
  for (const DeviceBuffer* b : buffers) {
    if (!b) continue;
    if (b->length() != first->length()) throw Napi::RangeError::New(env, "optimizer step: buffers of different lengths");
    if (b->device() != first->device()) throw Napi::RangeError::New(env, "optimizer step: buffers on different devices");
  }
  return first->device();
}

#ifdef RNN_WITH_CUDA
template <class F>
void onDevice(Napi::Env env, int device, F&& launch) {
  guarded(env, [&] {
    cuda::Context& ctx = cuda::context(device);
    launch(ctx.stream);
    cuda::check(cudaGetLastError(), "optimizer kernel launch");
    cuda::synchronize(ctx);
  });
}
#endif

// (param, grad, buf | null, negLr, weightDecay, momentum, keep, nesterov, maximize, firstStep)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  DeviceBuffer* param = floatBufferArg(info, 0, "param");
  DeviceBuffer* grad = floatBufferArg(info, 1, "grad");
  DeviceBuffer* buf = floatBufferArg(info, 2, "momentumBuffer", true);
  const int device = sameShape(info.Env(), {param, grad, buf});
  const cuda::SgdParams s{number(info, 3, "negLr"), number(info, 4, "weightDecay"), number(info, 5, "momentum"),
                          number(info, 6, "keep"), flag(info, 7, "nesterov"), flag(info, 8, "maximize"),
                          flag(info, 9, "firstStep")};
  onDevice(info.Env(), device, [&](cudaStream_t stream) {
    cuda::launchSgd(param->data(), grad->data(), buf ? buf->data() : nullptr, int64_t(param->length()), s, stream);
  });
  return info.Env().Undefined();
#else
  noCuda(info.Env());
#endif
}

// (param, grad, expAvg, expAvgSq, maxExpAvgSq | null, negStepSize, biasCorrection2Sqrt, eps, weightDecay, decay,
//  w1, oneMinusW1, beta2, w2, decoupled, maximize)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  DeviceBuffer* param = floatBufferArg(info, 0, "param");
  DeviceBuffer* grad = floatBufferArg(info, 1, "grad");
  DeviceBuffer* m = floatBufferArg(info, 2, "expAvg");
  DeviceBuffer* v = floatBufferArg(info, 3, "expAvgSq");
  DeviceBuffer* vMax = floatBufferArg(info, 4, "maxExpAvgSq", true);
  const int device = sameShape(info.Env(), {param, grad, m, v, vMax});
  const cuda::AdamParams a{number(info, 5, "negStepSize"), number(info, 6, "biasCorrection2Sqrt"), number(info, 7, "eps"),
                           number(info, 8, "weightDecay"), number(info, 9, "decay"), number(info, 10, "w1"),
                           number(info, 11, "oneMinusW1"), number(info, 12, "beta2"), number(info, 13, "w2"),
                           flag(info, 14, "decoupled"), flag(info, 15, "maximize")};
  onDevice(info.Env(), device, [&](cudaStream_t stream) {
    cuda::launchAdam(param->data(), grad->data(), m->data(), v->data(), vMax ? vMax->data() : nullptr,
                     int64_t(param->length()), a, stream);
  });
  return info.Env().Undefined();
#else
  noCuda(info.Env());
#endif
}

}  // namespace

void RegisterOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaSgdStep", Napi::Function::New(env, SgdStep, "cudaSgdStep"));
  exports.Set("cudaAdamStep", Napi::Function::New(env, AdamStep, "cudaAdamStep"));
}

}  // namespace rnn::binding
