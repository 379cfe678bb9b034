#pragma once
#include "napi_config.h"

#include <string>

namespace rnn::binding {

void RegisterCuda(Napi::Env env, Napi::Object exports);
std::string& precision();  // 'highest' or 'high' (process-wide, like PyTorch's setting)

}  // namespace rnn::binding
