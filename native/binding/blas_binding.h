#pragma once
#include "napi_config.h"

namespace rnn::binding {

void RegisterBlas(Napi::Env env, Napi::Object exports);

}  // namespace rnn::binding
