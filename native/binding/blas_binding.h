#pragma once
#include <napi.h>

namespace rnn::binding {

void RegisterBlas(Napi::Env env, Napi::Object exports);

}  // namespace rnn::binding
