#pragma once
#include "napi_config.h"

namespace rnn::binding {

// The tensor-op primitives on CUDA float32 buffers (cudaStridedCopy, cudaUnary, cudaBinary, cudaSumMiddle, cudaSoftmax,
// cudaIndexSelect, cudaIndexAdd, cudaGemmBatched, cudaBceWithLogits and their backward forms); see native/cuda/cuda_tensor_kernels.h.
void RegisterTensorOps(Napi::Env env, Napi::Object exports);

}  // namespace rnn::binding
