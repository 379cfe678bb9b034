// Every size is checked against its array before native code reads it.
#include "prepack_binding.h"

#include <string>

#include "../cpu/f32_prepack.h"

namespace rnn::binding {

namespace {

int sizeArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("f32Prepack: ") + name + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= 2147483647.0) || v != double(int64_t(v))) {
    throw Napi::RangeError::New(info.Env(), std::string("f32Prepack: ") + name + " must be a non-negative 32-bit integer");
  }
  return int(v);
}

const float* floatsArg(const Napi::CallbackInfo& info, size_t i, const char* name, size_t want, bool nullable) {
  if (nullable && info.Length() > i && info[i].IsNull()) return nullptr;
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), std::string("f32Prepack: ") + name + " must be a Float32Array" + (nullable ? " or null" : ""));
  }
  auto array = info[i].As<Napi::Float32Array>();
  if (array.ElementLength() != want) {
    throw Napi::RangeError::New(info.Env(), std::string("f32Prepack: ") + name + " has " + std::to_string(array.ElementLength()) +
                                                " elements, expected " + std::to_string(want));
  }
  return array.Data();
}

// f32Prepack(kind: 2 LSTM | 3 GRU (CellKind), I, P, H, wIh [G H I], wHh [G H P], bIh [G H] | null, bHh [G H] | null) -> Uint8Array
Napi::Value Prepack(const Napi::CallbackInfo& info) {
  const int kind = sizeArg(info, 0, "kind");
  if (kind != int(CellKind::Lstm) && kind != int(CellKind::Gru)) throw Napi::RangeError::New(info.Env(), "f32Prepack: kind must be LSTM or GRU");
  const CellKind k = CellKind(kind);
  const int I = sizeArg(info, 1, "I"), P = sizeArg(info, 2, "P"), H = sizeArg(info, 3, "H");
  const size_t GH = size_t(gateCount(k)) * H;
  const float* wIh = floatsArg(info, 4, "wIh", GH * I, false);
  const float* wHh = floatsArg(info, 5, "wHh", GH * P, false);
  const float* bIh = floatsArg(info, 6, "bIh", GH, true);
  const float* bHh = floatsArg(info, 7, "bHh", GH, true);
  if ((bIh == nullptr) != (bHh == nullptr)) throw Napi::TypeError::New(info.Env(), "f32Prepack: bIh and bHh must both be given or both be null");
  const size_t bytes = cpu::prepackedBytes(k, I, P, H);
  auto out = Napi::Uint8Array::New(info.Env(), bytes);
  cpu::prepackF32(k, I, P, H, wIh, wHh, bIh, bHh, out.Data(), bytes);
  return out;
}

}  // namespace

void RegisterPrepack(Napi::Env env, Napi::Object exports) {
  exports.Set("f32Prepack", Napi::Function::New(env, Prepack, "f32Prepack"));
}

}  // namespace rnn::binding
