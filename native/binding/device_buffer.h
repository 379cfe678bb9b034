// DeviceBuffer: a JS object owning memory on a CUDA device (a CUDA tensor's storage): `length` elements of one
// element type (float32, float16 or bfloat16; see core/elem_type.h).
// Freed by free() or by the GC; the amount is reported to V8 as external memory. While an async
// call uses the buffer, free() only marks it, and the memory goes when the call settles.
#pragma once
#include "napi_config.h"

#include <cstddef>

#include "../core/elem_type.h"

namespace rnn::binding {

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  static Napi::Object Create(Napi::Env env, int device, size_t length, ElemType type = ElemType::F32);
  // The DeviceBuffer behind `value`, or null when it is not one.
  static DeviceBuffer* From(Napi::Value value);

  explicit DeviceBuffer(const Napi::CallbackInfo& info);
  ~DeviceBuffer() override;

  int device() const { return device_; }
  size_t length() const { return length_; }  // in elements of type()
  ElemType type() const { return type_; }
  size_t bytes() const { return length_ * elemSize(type_); }
  void* raw() const { return data_; }
  // Typed view for float32 buffers; callers check type() == ElemType::F32 first.
  float* data() const { return static_cast<float*>(data_); }
  bool freed() const { return data_ == nullptr || freeRequested_; }
  void acquire() { ++inUse_; }
  void release();

 private:
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetLength(const Napi::CallbackInfo& info);
  Napi::Value GetFreed(const Napi::CallbackInfo& info);
  Napi::Value GetDType(const Napi::CallbackInfo& info);
  void releaseMemory();

  Napi::Env env_;
  int device_ = 0;
  size_t length_ = 0;
  ElemType type_ = ElemType::F32;
  void* data_ = nullptr;
  int inUse_ = 0;
  bool freeRequested_ = false;
};

}  // namespace rnn::binding
