// Switches of the CUDA backend's optional paths, read from the environment (no CUDA headers: kernels' files include it).
#pragma once
#include <cstdlib>
#include <cstring>

namespace rnn::cuda {

// The switches NODE_RNN_CUDA_GRAPHS / _FUSED / _PERSISTENT / _PIPELINE: on unless the variable is "0" (the GPU
// check runs the CUDA tests with them off too). Callers read it once.
inline bool switchedOn(const char* variable) {
  const char* flag = std::getenv(variable);
  return !(flag && std::strcmp(flag, "0") == 0);
}

}  // namespace rnn::cuda
