// Every size is checked against its array before native code reads it.
#include "prepack_binding.h"

#include <string>

#include "../cpu/bf16_prepack.h"
#include "../cpu/f32_prepack.h"
#include "arg_checks.h"

namespace rnn::binding {

namespace {

// The element arrays of one function: float32 (Float32Array) or bfloat16 bits (Uint16Array).
template <class Array>
struct Typed;
template <>
struct Typed<Napi::Float32Array> {
  static constexpr napi_typedarray_type kType = napi_float32_array;
  static constexpr const char* kName = "a Float32Array";
  static constexpr const char* kNullable = "a Float32Array or null";
};
template <>
struct Typed<Napi::Uint16Array> {
  static constexpr napi_typedarray_type kType = napi_uint16_array;
  static constexpr const char* kName = "a Uint16Array";
  static constexpr const char* kNullable = "a Uint16Array or null";
};

template <class Array>
auto weightArg(const Napi::CallbackInfo& info, const char* fn, size_t i, const char* name, size_t want, bool nullable)
    -> decltype(Array().Data()) {
  if (nullable && info.Length() > i && info[i].IsNull()) return nullptr;
  using T = Typed<Array>;
  auto array = arrayArg<Array>(info, i, T::kType, fn, name, nullable ? T::kNullable : T::kName);
  expectLength(info.Env(), fn, name, array.ElementLength(), want);
  return array.Data();
}

// What both functions take first: kind, I, P, H, wIh [G H I], wHh [G H P], bIh [G H] | null, bHh [G H] | null.
template <class Array>
struct LayerArgs {
  CellKind kind;
  int I, P, H;
  decltype(Array().Data()) wIh, wHh, bIh, bHh;
};

template <class Array>
LayerArgs<Array> layerArgs(const Napi::CallbackInfo& info, const char* fn) {
  const int kind = intArg(info, 0, fn, "kind");
  if (kind != int(CellKind::Lstm) && kind != int(CellKind::Gru)) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": kind must be LSTM or GRU");
  }
  LayerArgs<Array> a;
  a.kind = CellKind(kind);
  a.I = intArg(info, 1, fn, "I"), a.P = intArg(info, 2, fn, "P"), a.H = intArg(info, 3, fn, "H");
  const size_t GH = size_t(gateCount(a.kind)) * a.H;
  a.wIh = weightArg<Array>(info, fn, 4, "wIh", GH * a.I, false);
  a.wHh = weightArg<Array>(info, fn, 5, "wHh", GH * a.P, false);
  a.bIh = weightArg<Array>(info, fn, 6, "bIh", GH, true);
  a.bHh = weightArg<Array>(info, fn, 7, "bHh", GH, true);
  if ((a.bIh == nullptr) != (a.bHh == nullptr)) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": bIh and bHh must both be given or both be null");
  }
  return a;
}

// f32Prepack(kind: 2 LSTM | 3 GRU (CellKind), I, P, H, wIh [G H I], wHh [G H P], bIh [G H] | null, bHh [G H] | null) -> Uint8Array
Napi::Value Prepack(const Napi::CallbackInfo& info) {
  const auto a = layerArgs<Napi::Float32Array>(info, "f32Prepack");
  const size_t bytes = cpu::prepackedBytes(a.kind, a.I, a.P, a.H);
  auto out = Napi::Uint8Array::New(info.Env(), bytes);
  cpu::prepackF32(a.kind, a.I, a.P, a.H, a.wIh, a.wHh, a.bIh, a.bHh, out.Data(), bytes);
  return out;
}

// bf16Prepack(kind, I, P, H, wIh, wHh, bIh | null, bHh | null, wHr [P H] | null) -> Uint8Array, every weight as
// bfloat16 bits; wHr only for an LSTM with projections (P < H)
Napi::Value PrepackBf16(const Napi::CallbackInfo& info) {
  const auto a = layerArgs<Napi::Uint16Array>(info, "bf16Prepack");
  const uint16_t* wHr = weightArg<Napi::Uint16Array>(info, "bf16Prepack", 8, "wHr", size_t(a.P) * a.H, true);
  if (wHr && (a.kind != CellKind::Lstm || a.P >= a.H)) throw Napi::RangeError::New(info.Env(), "bf16Prepack: wHr is for an LSTM with P < H");
  if (!wHr && a.P != a.H) throw Napi::RangeError::New(info.Env(), "bf16Prepack: P must equal H without wHr");
  const size_t bytes = cpu::bf16PrepackedBytes(a.kind, a.I, a.P, a.H, wHr != nullptr);
  auto out = Napi::Uint8Array::New(info.Env(), bytes);
  cpu::prepackBf16(a.kind, a.I, a.P, a.H, a.wIh, a.wHh, a.bIh, a.bHh, wHr, out.Data(), bytes);
  return out;
}

}  // namespace

void RegisterPrepack(Napi::Env env, Napi::Object exports) {
  exports.Set("f32Prepack", Napi::Function::New(env, Prepack, "f32Prepack"));
  exports.Set("bf16Prepack", Napi::Function::New(env, PrepackBf16, "bf16Prepack"));
}

}  // namespace rnn::binding
