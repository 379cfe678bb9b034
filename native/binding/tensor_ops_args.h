// Argument helpers of the tensor-op entry points (tensor_ops_binding.cpp): numbers, integer lists, extents checked
// with overflow-safe arithmetic, same-device checks, launches whose errors become JS exceptions, and host int64
// indices validated and copied to stream-ordered device memory. CUDA builds only.
#pragma once
#ifdef RNN_WITH_CUDA
#include "napi_config.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "../cuda/cuda_context.h"
#include "../cuda/cuda_tensor_kernels.h"
#include "device_buffer.h"

namespace rnn::binding::tensor_args {

inline constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1: JS numbers are exact up to here

inline Napi::RangeError rangeError(Napi::Env env, const char* fn, const std::string& what) {
  return Napi::RangeError::New(env, std::string(fn) + ": " + what);
}

inline int64_t sizeArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > kMaxSafe || v != double(int64_t(v))) throw rangeError(info.Env(), fn, std::string(name) + " must be a non-negative integer");
  return int64_t(v);
}

inline double numberArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline bool flagArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (i >= info.Length() || !info[i].IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

inline int opArg(const Napi::CallbackInfo& info, size_t i, const char* fn, int count) {
  const int64_t op = sizeArg(info, i, fn, "op");
  if (op >= count) throw rangeError(info.Env(), fn, "unknown op code " + std::to_string(op));
  return int(op);
}

inline std::vector<int64_t> listArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (i >= info.Length() || !info[i].IsArray()) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be an array of integers");
  }
  Napi::Array array = info[i].As<Napi::Array>();
  if (array.Length() > uint32_t(cuda::kMaxTensorDims)) {
    throw rangeError(info.Env(), fn, std::string(name) + " has more than " + std::to_string(cuda::kMaxTensorDims) + " dimensions");
  }
  std::vector<int64_t> out;
  for (uint32_t k = 0; k < array.Length(); k++) {
    Napi::Value v = array.Get(k);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d > kMaxSafe || d != double(int64_t(d))) {
      throw rangeError(info.Env(), fn, std::string(name) + "[" + std::to_string(k) + "] must be a non-negative integer");
    }
    out.push_back(int64_t(d));
  }
  return out;
}

// a * b + c, or a RangeError when it leaves int64 (a shape product or extent no buffer could have).
inline int64_t mulAdd(Napi::Env env, const char* fn, int64_t a, int64_t b, int64_t c) {
  int64_t p, s;
  if (__builtin_mul_overflow(a, b, &p) || __builtin_add_overflow(p, c, &s)) throw rangeError(env, fn, "sizes overflow 64 bits");
  return s;
}

inline int64_t numelOf(Napi::Env env, const char* fn, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n = mulAdd(env, fn, n, s, 0);
  return n;
}

// Every element `offset + sum idx_i stride_i` of the index space lies inside a buffer of `length`.
inline void checkExtent(Napi::Env env, const char* fn, const char* name, size_t length, int64_t offset, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& strides) {
  if (numelOf(env, fn, shape) == 0) return;
  int64_t last = offset;
  for (size_t d = 0; d < shape.size(); d++) last = mulAdd(env, fn, shape[d] - 1, strides[d], last);
  if (uint64_t(last) >= length) throw rangeError(env, fn, std::string(name) + " is too small for the view it is read or written through");
}

inline void checkLength(Napi::Env env, const char* fn, const char* name, const DeviceBuffer* b, int64_t n) {
  if (b && int64_t(b->length()) != n) {
    throw rangeError(env, fn, std::string(name) + " has " + std::to_string(b->length()) + " elements, expected " + std::to_string(n));
  }
}

inline int sameDevice(Napi::Env env, const char* fn, std::initializer_list<const DeviceBuffer*> buffers) {
  const DeviceBuffer* first = *buffers.begin();
  for (const DeviceBuffer* b : buffers) {
    if (b && b->device() != first->device()) throw rangeError(env, fn, "the buffers are on different devices");
  }
  return first->device();
}

using Named = std::pair<const char*, const DeviceBuffer*>;

inline cuda::TwoStrided viewOf(Napi::Env env, const char* fn, const std::vector<int64_t>& shape, const std::vector<int64_t>& first,
                        const std::vector<int64_t>& second) {
  if (first.size() != shape.size() || second.size() != shape.size()) throw rangeError(env, fn, "shape and strides differ in length");
  cuda::TwoStrided v{};
  v.ndim = int(shape.size());
  for (size_t d = 0; d < shape.size(); d++) {
    v.size[d] = shape[d];
    v.stride[0][d] = first[d];
    v.stride[1][d] = second[d];
  }
  return v;
}

// Runs `launch` on the device's stream of this thread; launch errors (and CUDA errors) become JS Errors.
template <class F>
inline void launchOn(Napi::Env env, const char* fn, int device, F&& launch) {
  try {
    cuda::Context& ctx = cuda::context(device);
    launch(ctx);
    cuda::check(cudaGetLastError(), fn);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// Host int64 indices (a BigInt64Array, each in [0, size)) copied into stream-ordered device memory for one launch.
class DeviceIndex {
 public:
  DeviceIndex(const Napi::CallbackInfo& info, size_t i, const char* fn, int64_t size) {
    if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array) {
      throw Napi::TypeError::New(info.Env(), std::string(fn) + ": index must be a BigInt64Array");
    }
    Napi::TypedArray array = info[i].As<Napi::TypedArray>();
    host_ = reinterpret_cast<const int64_t*>(static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset());
    count_ = int64_t(array.ElementLength());
    for (int64_t j = 0; j < count_; j++) {
      if (host_[j] < 0 || host_[j] >= size) {
        throw rangeError(info.Env(), fn, "index[" + std::to_string(j) + "] = " + std::to_string(host_[j]) + " is not in [0, " +
                                             std::to_string(size) + ")");
      }
    }
  }
  ~DeviceIndex() {
    if (device_) cudaFreeAsync(device_, stream_);
  }
  int64_t count() const { return count_; }
  // The pageable source is consumed before cudaMemcpyAsync returns, so the JS array may change afterwards.
  const int64_t* upload(cudaStream_t stream) {
    if (count_ == 0) return nullptr;
    stream_ = stream;
    cuda::check(cudaMallocAsync(reinterpret_cast<void**>(&device_), size_t(count_) * sizeof(int64_t), stream), "cudaMallocAsync (index)");
    cuda::check(cudaMemcpyAsync(device_, host_, size_t(count_) * sizeof(int64_t), cudaMemcpyHostToDevice, stream), "cudaMemcpy (index)");
    return device_;
  }

 private:
  const int64_t* host_ = nullptr;
  int64_t count_ = 0;
  int64_t* device_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace rnn::binding::tensor_args

#endif  // RNN_WITH_CUDA
