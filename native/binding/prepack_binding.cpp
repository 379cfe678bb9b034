// Every size is checked against its array before native code reads it.
#include "prepack_binding.h"

#include <string>

#include "../cpu/bf16_prepack.h"
#include "../cpu/f32_prepack.h"
#include "arg_checks.h"

namespace rnn::binding {

namespace {

const float* floatsArg(const Napi::CallbackInfo& info, size_t i, const char* name, size_t want, bool nullable) {
  if (nullable && info.Length() > i && info[i].IsNull()) return nullptr;
  auto array = arrayArg<Napi::Float32Array>(info, i, napi_float32_array, "f32Prepack", name, nullable ? "a Float32Array or null" : "a Float32Array");
  expectLength(info.Env(), "f32Prepack", name, array.ElementLength(), want);
  return array.Data();
}

// f32Prepack(kind: 2 LSTM | 3 GRU (CellKind), I, P, H, wIh [G H I], wHh [G H P], bIh [G H] | null, bHh [G H] | null) -> Uint8Array
Napi::Value Prepack(const Napi::CallbackInfo& info) {
  const int kind = intArg(info, 0, "f32Prepack", "kind");
  if (kind != int(CellKind::Lstm) && kind != int(CellKind::Gru)) throw Napi::RangeError::New(info.Env(), "f32Prepack: kind must be LSTM or GRU");
  const CellKind k = CellKind(kind);
  const int I = intArg(info, 1, "f32Prepack", "I"), P = intArg(info, 2, "f32Prepack", "P"), H = intArg(info, 3, "f32Prepack", "H");
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

const uint16_t* bitsArg(const Napi::CallbackInfo& info, size_t i, const char* name, size_t want, bool nullable) {
  if (nullable && info.Length() > i && info[i].IsNull()) return nullptr;
  auto array = arrayArg<Napi::Uint16Array>(info, i, napi_uint16_array, "bf16Prepack", name, nullable ? "a Uint16Array or null" : "a Uint16Array");
  expectLength(info.Env(), "bf16Prepack", name, array.ElementLength(), want);
  return array.Data();
}

// bf16Prepack(kind, I, P, H, wIh [G H I], wHh [G H P], bIh [G H] | null, bHh [G H] | null, wHr [P H] | null) -> Uint8Array,
// every weight as bfloat16 bits; wHr only for an LSTM with projections (P < H)
Napi::Value PrepackBf16(const Napi::CallbackInfo& info) {
  const int kind = intArg(info, 0, "bf16Prepack", "kind");
  if (kind != int(CellKind::Lstm) && kind != int(CellKind::Gru)) throw Napi::RangeError::New(info.Env(), "bf16Prepack: kind must be LSTM or GRU");
  const CellKind k = CellKind(kind);
  const int I = intArg(info, 1, "bf16Prepack", "I"), P = intArg(info, 2, "bf16Prepack", "P"), H = intArg(info, 3, "bf16Prepack", "H");
  const size_t GH = size_t(gateCount(k)) * H;
  const uint16_t* wIh = bitsArg(info, 4, "wIh", GH * I, false);
  const uint16_t* wHh = bitsArg(info, 5, "wHh", GH * P, false);
  const uint16_t* bIh = bitsArg(info, 6, "bIh", GH, true);
  const uint16_t* bHh = bitsArg(info, 7, "bHh", GH, true);
  if ((bIh == nullptr) != (bHh == nullptr)) throw Napi::TypeError::New(info.Env(), "bf16Prepack: bIh and bHh must both be given or both be null");
  const uint16_t* wHr = bitsArg(info, 8, "wHr", size_t(P) * H, true);
  if (wHr && (k != CellKind::Lstm || P >= H)) throw Napi::RangeError::New(info.Env(), "bf16Prepack: wHr is for an LSTM with P < H");
  if (!wHr && P != H) throw Napi::RangeError::New(info.Env(), "bf16Prepack: P must equal H without wHr");
  const size_t bytes = cpu::bf16PrepackedBytes(k, I, P, H, wHr != nullptr);
  auto out = Napi::Uint8Array::New(info.Env(), bytes);
  cpu::prepackBf16(k, I, P, H, wIh, wHh, bIh, bHh, wHr, out.Data(), bytes);
  return out;
}

}  // namespace

void RegisterPrepack(Napi::Env env, Napi::Object exports) {
  exports.Set("f32Prepack", Napi::Function::New(env, Prepack, "f32Prepack"));
  exports.Set("bf16Prepack", Napi::Function::New(env, PrepackBf16, "bf16Prepack"));
}

}  // namespace rnn::binding
