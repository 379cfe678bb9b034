// What the CUDA entry points (cuda_binding.cpp, optim_binding.cpp) share: device-buffer arguments (a live
// DeviceBuffer, or a live float32 one for arithmetic that exists in float32 only: add, sgemm, optimizer steps) and,
// in a CPU-only build, the error that says CUDA is missing and why (RNN_CUDA_REASON comes from CMake); and how
// native errors become JS ones.
#pragma once
#include "napi_config.h"

#include <string>

#include "device_buffer.h"

#ifndef RNN_CUDA_REASON
#define RNN_CUDA_REASON "built without CUDA"
#endif

namespace rnn::binding {

// Runs f, turning a native error (std::exception: CUDA and cuBLAS failures) into a JS Error; JS errors pass through.
template <class F>
void guarded(Napi::Env env, F&& f) {
  try {
    f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

[[noreturn, maybe_unused]] inline void noCuda(Napi::Env env) {
  throw Napi::Error::New(env, std::string("node-rnn was built without CUDA (") + RNN_CUDA_REASON + ")");
}

inline DeviceBuffer* bufferArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  DeviceBuffer* buffer = i < info.Length() ? DeviceBuffer::From(info[i]) : nullptr;
  if (!buffer) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a DeviceBuffer");
  if (buffer->freed()) throw Napi::Error::New(info.Env(), std::string(name) + " has been freed (the tensor was disposed)");
  return buffer;
}

// `optional`: null or undefined give nullptr.
inline DeviceBuffer* floatBufferArg(const Napi::CallbackInfo& info, size_t i, const char* name, bool optional = false) {
  if (optional && (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined())) return nullptr;
  DeviceBuffer* buffer = bufferArg(info, i, name);
  if (buffer->type() != ElemType::F32) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a float32 buffer, not " + elemName(buffer->type()));
  }
  return buffer;
}

}  // namespace rnn::binding
