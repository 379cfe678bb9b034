#pragma once
#include "napi_config.h"

namespace rnn::binding {

// cudaSgdStep / cudaAdamStep: optimizer updates of CUDA parameters in place (see native/cuda/cuda_optim_kernels.h).
void RegisterOptim(Napi::Env env, Napi::Object exports);

}  // namespace rnn::binding
