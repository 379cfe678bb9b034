// The argument checks of the small native entry points (int8Pack, int8Linear, f32Prepack): each throws a JS
// TypeError / RangeError naming the function and the argument before native code reads anything.
#pragma once
#include "napi_config.h"

#include <cstdint>
#include <string>

namespace rnn::binding {

inline int intArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int64_t max = 2147483647) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= double(max)) || v != double(int64_t(v))) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + name + " must be an integer in [0, " + std::to_string(max) + "]");
  }
  return int(v);
}

template <class Array>
inline Array arrayArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* fn, const char* name, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be " + what);
  }
  return info[i].As<Array>();
}

inline void expectLength(Napi::Env env, const char* fn, const char* name, size_t have, size_t want) {
  if (have != want) {
    throw Napi::RangeError::New(env, std::string(fn) + ": " + name + " has " + std::to_string(have) + " elements, expected " + std::to_string(want));
  }
}

}  // namespace rnn::binding
