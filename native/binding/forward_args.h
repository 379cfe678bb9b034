// Unpacks a JS forward call into the core's RnnSpec/RnnIo: pointers into the caller's TypedArrays,
// no copies. The arrays are kept referenced for as long as a job may use them.
#pragma once
#include "napi_config.h"

#include <vector>

#include "../core/rnn_backward.h"
#include "../core/rnn_spec.h"

namespace rnn::binding {

class DeviceBuffer;

struct ForwardJob {
  RnnSpec spec;
  RnnIo io;
  RnnGradIo grads;  // backward jobs only
  int device = -1;                               // -1: CPU; else the CUDA device of every tensor
  std::vector<Napi::ObjectReference> keepAlive;  // filled only for async jobs
  std::vector<DeviceBuffer*> inUse;              // async jobs: device buffers that must not be freed yet
  ForwardJob() = default;
  ForwardJob(ForwardJob&&) = default;
  ~ForwardJob();
};

// Throws a JS TypeError/RangeError (as a Napi::Error) when the arguments are not what lib/ passes.
// Forward: (spec, weights[], input, h0, c0, output, hN, cN, batchSizes, saved?)
ForwardJob unpackForward(const Napi::CallbackInfo& info, bool keepAlive);
// Backward: the forward's arguments (saved required), then
// (gradOutput, gradHN, gradCN, gradInput, gradH0, gradC0, gradWeights[])
ForwardJob unpackBackward(const Napi::CallbackInfo& info, bool keepAlive);

}  // namespace rnn::binding
