// The CPU backend of the shared driver: the recurrence of one layer-direction on a thread team
// (OpenBLAS GEMMs, single-threaded per member, plus the fused steps), copies and dropout.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/rnn_backward.h"
#include "../core/rnn_driver.h"

namespace rnn::cpu {

class CpuBackend {
 public:
  void recurrence(const LayerDirection& ld);
  void recurrenceBackward(const LayerDirectionGrad& ld);  // cpu_backward.cpp
  std::vector<float> scratch(size_t n) { return std::vector<float>(n); }
  void copy(float* dst, const float* src, size_t n);
  void zero(float* dst, size_t n);
  void dropout(float* data, size_t n, float p, uint64_t seed);
};

void rnnForwardCpu(const RnnSpec& spec, const RnnIo& io);
void rnnBackwardCpu(const RnnSpec& spec, const RnnIo& io, const RnnGradIo& grads);

// Threads of the team that runs each call (like torch.set_num_threads); OpenBLAS itself runs
// single-threaded inside each member, so the two never compete for cores.
void setNumThreads(int n);
int getNumThreads();

}  // namespace rnn::cpu
