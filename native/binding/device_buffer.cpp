#include "device_buffer.h"

#include <cstdint>
#include <exception>
#include <string>

#ifdef RNN_WITH_CUDA
#include "../cuda/cuda_memory.h"
#endif

namespace rnn::binding {

namespace {

struct AddonClasses {
  Napi::FunctionReference deviceBuffer;
};

// Passed to the constructor so that JS cannot make a DeviceBuffer without memory behind it.
int kConstructToken = 0;

#ifdef RNN_WITH_CUDA
// Tells V8 about `delta` bytes of device memory. Never throws (Napi::MemoryManagement would on failure): the
// release runs in the finalizer's destructor, where an exception terminates the process. The allocation uses it
// too, so the amounts reported up and down always match.
void reportExternal(napi_env env, int64_t delta) noexcept {
  int64_t total = 0;
  napi_adjust_external_memory(env, delta, &total);
}
#endif

}  // namespace

void DeviceBuffer::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "DeviceBuffer",
                                    {InstanceMethod<&DeviceBuffer::Free>("free"),
                                     InstanceAccessor<&DeviceBuffer::GetDevice>("device"),
                                     InstanceAccessor<&DeviceBuffer::GetLength>("length"),
                                     InstanceAccessor<&DeviceBuffer::GetDType>("dtype"),
                                     InstanceAccessor<&DeviceBuffer::GetFreed>("freed")});
  auto* classes = new AddonClasses{Napi::Persistent(ctor)};
  env.SetInstanceData<AddonClasses>(classes);
  exports.Set("DeviceBuffer", ctor);
}

Napi::Object DeviceBuffer::Create(Napi::Env env, int device, size_t length, ElemType type) {
  auto* classes = env.GetInstanceData<AddonClasses>();
  if (!classes) throw Napi::Error::New(env, "node-rnn: the addon was not initialised in this environment");
  return classes->deviceBuffer.New({Napi::External<int>::New(env, &kConstructToken), Napi::Number::New(env, device),
                                    Napi::Number::New(env, double(length)), Napi::Number::New(env, int(type))});
}

DeviceBuffer* DeviceBuffer::From(Napi::Value value) {
  if (!value.IsObject()) return nullptr;
  auto* classes = value.Env().GetInstanceData<AddonClasses>();
  if (!classes || !value.As<Napi::Object>().InstanceOf(classes->deviceBuffer.Value())) return nullptr;
  return DeviceBuffer::Unwrap(value.As<Napi::Object>());
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info), env_(info.Env()) {
  if (info.Length() != 4 || !info[0].IsExternal() || info[0].As<Napi::External<int>>().Data() != &kConstructToken) {
    throw Napi::TypeError::New(info.Env(), "DeviceBuffer cannot be constructed directly; use a CUDA tensor factory");
  }
  device_ = info[1].As<Napi::Number>().Int32Value();
  length_ = size_t(info[2].As<Napi::Number>().DoubleValue());
  type_ = ElemType(info[3].As<Napi::Number>().Int32Value());
#ifdef RNN_WITH_CUDA
  try {
    data_ = cuda::allocate(device_, bytes());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("CUDA out of memory or allocation failed (") + std::to_string(bytes()) +
                                           " bytes on cuda:" + std::to_string(device_) + "): " + e.what());
  }
  reportExternal(info.Env(), int64_t(bytes()));
#else
  throw Napi::Error::New(info.Env(), "node-rnn was built without CUDA");
#endif
}

DeviceBuffer::~DeviceBuffer() { releaseMemory(); }

void DeviceBuffer::releaseMemory() {
  if (!data_) return;
#ifdef RNN_WITH_CUDA
  cuda::release(device_, data_);
  reportExternal(env_, -int64_t(bytes()));
#endif
  data_ = nullptr;
}

void DeviceBuffer::release() {
  if (--inUse_ == 0 && freeRequested_) releaseMemory();
}

Napi::Value DeviceBuffer::Free(const Napi::CallbackInfo& info) {
  freeRequested_ = true;
  if (inUse_ == 0) releaseMemory();
  return info.Env().Undefined();
}

Napi::Value DeviceBuffer::GetDevice(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }
Napi::Value DeviceBuffer::GetLength(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(length_)); }
Napi::Value DeviceBuffer::GetDType(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), elemName(type_)); }
Napi::Value DeviceBuffer::GetFreed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), freed()); }

}  // namespace rnn::binding
