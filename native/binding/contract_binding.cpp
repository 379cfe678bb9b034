// The recurrent call's contract as data for TypeScript: each cell kind's number (the spec's `kind`) and gate count
// (rows of weight_ih per hidden unit), read from core/cell_kind.h so lib/ never repeats the table; asked once at load.
#include "contract_binding.h"

#include "../core/cell_kind.h"

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

}  // namespace

void RegisterContract(Napi::Env env, Napi::Object exports) {
  exports.Set("rnnContract", Napi::Function::New(env, RnnContract, "rnnContract"));
}

}  // namespace rnn::binding
