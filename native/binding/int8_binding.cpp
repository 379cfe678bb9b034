// The int8 entry points besides the recurrent forward (which is rnnForward with spec.dtype 'int8'): packing a
// quantized matrix for this CPU's kernels, and the quantized Linear. Every size is checked against its array
// before native code reads it.
#include "int8_binding.h"

#include <string>

#include "arg_checks.h"
#include "../cpu/int8_forward.h"
#include "../cpu/int8_pack.h"

namespace rnn::binding {

namespace {

// int8Pack(gates, n, k, values: Int8Array [gates n k], scales: Float32Array [gates n]) -> Uint8Array
Napi::Value Pack(const Napi::CallbackInfo& info) {
  const char* fn = "int8Pack";
  const int gates = intArg(info, 0, fn, "gates", 4), n = intArg(info, 1, fn, "n"), k = intArg(info, 2, fn, "k", cpu::kMaxInt8K);
  if (gates != 1 && gates != 3 && gates != 4) throw Napi::RangeError::New(info.Env(), "int8Pack: gates must be 1, 3 or 4");
  auto values = arrayArg<Napi::Int8Array>(info, 3, napi_int8_array, fn, "values", "an Int8Array");
  auto scales = arrayArg<Napi::Float32Array>(info, 4, napi_float32_array, fn, "scales", "a Float32Array");
  expectLength(info.Env(), fn, "values", values.ElementLength(), size_t(gates) * n * k);
  expectLength(info.Env(), fn, "scales", scales.ElementLength(), size_t(gates) * n);
  auto out = Napi::Uint8Array::New(info.Env(), cpu::int8PackedBytes(gates, n, k));
  cpu::packInt8(gates, n, k, values.Data(), scales.Data(), out.Data());
  return out;
}

// int8Linear(packed: Uint8Array, bias: Float32Array | null, input: Float32Array [rows k], rows, k, n, output [rows n])
Napi::Value Linear(const Napi::CallbackInfo& info) {
  const char* fn = "int8Linear";
  auto packed = arrayArg<Napi::Uint8Array>(info, 0, napi_uint8_array, fn, "packed", "a Uint8Array");
  const bool hasBias = info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined();
  auto input = arrayArg<Napi::Float32Array>(info, 2, napi_float32_array, fn, "input", "a Float32Array");
  const int rows = intArg(info, 3, fn, "rows"), k = intArg(info, 4, fn, "k", cpu::kMaxInt8K), n = intArg(info, 5, fn, "n");
  auto output = arrayArg<Napi::Float32Array>(info, 6, napi_float32_array, fn, "output", "a Float32Array");
  const std::string error = cpu::int8PackedError(packed.Data(), packed.ElementLength(), 1, n, k);
  if (!error.empty()) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + error);
  const float* bias = nullptr;
  if (hasBias) {
    auto b = arrayArg<Napi::Float32Array>(info, 1, napi_float32_array, fn, "bias", "a Float32Array or null");
    expectLength(info.Env(), fn, "bias", b.ElementLength(), size_t(n));
    bias = b.Data();
  }
  expectLength(info.Env(), fn, "input", input.ElementLength(), size_t(rows) * k);
  expectLength(info.Env(), fn, "output", output.ElementLength(), size_t(rows) * n);
  if (rows > 0 && n > 0) cpu::int8Linear(packed.Data(), bias, input.Data(), rows, k, n, output.Data());
  return info.Env().Undefined();
}

}  // namespace

void RegisterInt8(Napi::Env env, Napi::Object exports) {
  exports.Set("int8Pack", Napi::Function::New(env, Pack, "int8Pack"));
  exports.Set("int8Linear", Napi::Function::New(env, Linear, "int8Linear"));
}

}  // namespace rnn::binding
