// Unpacks a JS recurrent call into the core's RnnSpec/RnnIo: pointers into the caller's TypedArrays and device
// buffers, no copies. The arrays are kept referenced for as long as a job may use them.
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

// Each reads the call's one argument, an object with named fields (lib/binding.ts types them), and throws a JS
// TypeError/RangeError (as a Napi::Error) when a buffer would take native code outside its memory.
// Forward: { spec, weights[], input, h0, c0, output, hN, cN, batchSizes, saved }
ForwardJob unpackForward(const Napi::CallbackInfo& info, bool keepAlive);
// Backward: the recorded forward's fields (saved not null) and
// { gradOutput, gradHN, gradCN, gradInput, gradH0, gradC0, gradWeights[] }
ForwardJob unpackBackward(const Napi::CallbackInfo& info, bool keepAlive);

}  // namespace rnn::binding
