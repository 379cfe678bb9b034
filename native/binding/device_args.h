// Device-buffer arguments of the CUDA entry points (cuda_binding.cpp, optim_binding.cpp): a live DeviceBuffer,
// or a live float32 one for arithmetic that exists in float32 only (add, sgemm, optimizer steps).
#pragma once
#include <napi.h>

#include <string>

#include "device_buffer.h"

namespace rnn::binding {

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
