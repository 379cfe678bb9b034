#pragma once
#include "napi_config.h"

namespace rnn::binding {

// Exports rnnContract(): the cell kinds' numbers and gate counts (core/cell_kind.h), and rnnSavedSize(shape): the
// floats a recording forward saves (core/rnn_saved.h), for lib/nn/recurrent-call.ts.
void RegisterContract(Napi::Env env, Napi::Object exports);

}  // namespace rnn::binding
