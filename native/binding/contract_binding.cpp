// The recurrent call's contract as data for TypeScript, so lib/ never repeats a table or a formula of the core:
// each cell kind's number (the spec's `kind`) and gate count (rows of weight_ih per hidden unit) from
// core/cell_kind.h, asked once at load; and the floats a recording forward saves (core/rnn_saved.h), asked by
// the memory limit before each recording forward and by the forward to size its saved workspace.
#include "contract_binding.h"

#include <cstdint>
#include <string>

#include "../core/cell_kind.h"
#include "../core/rnn_saved.h"

namespace rnn::binding {

namespace {

struct NamedKind {
  const char* name;  // lib/'s CellMode, PyTorch's mode names
  CellKind kind;
};

constexpr NamedKind kCellKinds[] = {
    {"RNN_TANH", CellKind::RnnTanh},
    {"RNN_RELU", CellKind::RnnRelu},
    {"LSTM", CellKind::Lstm},
    {"GRU", CellKind::Gru},
};

Napi::Value RnnContract(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Napi::Object kinds = Napi::Object::New(env);
  Napi::Object gates = Napi::Object::New(env);
  for (const NamedKind& cell : kCellKinds) {
    kinds.Set(cell.name, static_cast<int>(cell.kind));
    gates.Set(cell.name, gateCount(cell.kind));
  }
  Napi::Object contract = Napi::Object::New(env);
  contract.Set("kinds", kinds);
  contract.Set("gates", gates);
  return contract;
}

// A non-negative integer field up to `max` (converting a double outside int's range is undefined behaviour).
double count(Napi::Object shape, const char* key, double max) {
  Napi::Value v = shape.Get(key);
  const double n = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(n >= 0 && n <= max) || n != double(int64_t(n))) {
    throw Napi::TypeError::New(shape.Env(), std::string("rnnSavedSize: ") + key + " must be an integer in [0, " + std::to_string(int64_t(max)) + "]");
  }
  return n;
}

// rnnSavedSize({ kind, rows, numLayers, bidirectional, hiddenSize, projSize }) -> floats (a double)
Napi::Value RnnSavedSize(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "rnnSavedSize: expected one shape object");
  Napi::Object shape = info[0].As<Napi::Object>();
  const double int32 = 2147483647.0;
  RnnSpec spec;
  spec.kind = CellKind(int(count(shape, "kind", 3)));
  spec.numLayers = int(count(shape, "numLayers", int32));
  spec.bidirectional = shape.Get("bidirectional").ToBoolean();
  spec.hiddenSize = int(count(shape, "hiddenSize", int32));
  spec.projSize = int(count(shape, "projSize", int32));
  return Napi::Number::New(info.Env(), savedFloats(spec, count(shape, "rows", 9007199254740991.0)));
}

}  // namespace

void RegisterContract(Napi::Env env, Napi::Object exports) {
  exports.Set("rnnContract", Napi::Function::New(env, RnnContract, "rnnContract"));
  exports.Set("rnnSavedSize", Napi::Function::New(env, RnnSavedSize, "rnnSavedSize"));
}

}  // namespace rnn::binding
