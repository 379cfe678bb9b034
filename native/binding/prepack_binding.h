// f32Prepack: a float32 LSTM / GRU layer-direction's weights packed once for the CPU step kernels
// (cpu/f32_prepack.h), for modules made by optimizeForInference.
#pragma once
#include "napi_config.h"

namespace rnn::binding {

void RegisterPrepack(Napi::Env env, Napi::Object exports);

}  // namespace rnn::binding
