#pragma once
#include "napi_config.h"

namespace rnn::binding {

// int8Pack (quantizeDynamic packs a module's int8 weights once for this CPU) and int8Linear (a quantized Linear).
void RegisterInt8(Napi::Env env, Napi::Object exports);

}  // namespace rnn::binding
