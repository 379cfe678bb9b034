// The CPU backend of the shared driver: the recurrence of one layer-direction on a thread team
// (OpenBLAS GEMMs, single-threaded per member, plus the fused steps), copies and dropout. The bfloat16 and int8
// backends (bf16_forward.cpp, int8_forward.cpp) are this one's memory with their own activations and recurrence.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../core/rnn_backward.h"
#include "../core/rnn_driver.h"

namespace rnn::cpu {

class CpuBackend : public Float32Storage {
 public:
  void recurrence(const LayerDirection& ld);
  // A unidirectional LSTM / GRU stack at batch 1 on two members runs its layers at once (layer_stack.h) when a
  // layer's W_ih and W_hh fit a core's L2 together (H <= 181 at I = H); the int8 and bfloat16 backends have
  // their own.
  bool stacksLayers(const RnnSpec& spec) const;
  void recurrenceStack(const std::vector<LayerDirection>& layers);
  // A bidirectional layer at batch 1 on two members runs its directions at once, one member each, under the same
  // bound (layer_stack.h).
  bool pairsDirections(const RnnSpec& spec) const;
  void recurrencePair(const LayerDirection& forward, const LayerDirection& reverse);
  void recurrenceBackward(const LayerDirectionGrad& ld);  // cpu_backward.cpp
  // The driver's memory (buffers between layers, converted states and inputs), kept between calls on this thread
  // instead of a fresh zeroed vector per call (13 MB between the layers of a 2-layer bidirectional LSTM at
  // 100 x 64, H = 256: a memset and a page fault per 4 KB every call): one piece per request of a call, since the
  // driver asks in the same order every call; never zeroed (the driver writes before it reads).
  template <class T>
  struct Reused {
    T* p;
    T* data() const { return p; }
  };
  template <class T = float>
  Reused<T> scratch(size_t n) {
    thread_local std::vector<std::vector<T>> pieces;
    if (pieces.size() <= requests_) pieces.resize(requests_ + 1);
    std::vector<T>& piece = pieces[requests_++];
    if (piece.size() < n) piece.resize(n);
    return {piece.data()};
  }
  template <class T>
  void copy(T* dst, const T* src, size_t n) {
    std::memmove(dst, src, n * sizeof(T));
  }
  template <class T>
  void zero(T* dst, size_t n) {
    std::fill(dst, dst + n, T{});
  }
  // float32 <-> bfloat16 (equal types copy)
  void convert(void* dst, ElemType dstType, const void* src, ElemType srcType, size_t n);
  void dropout(float* data, size_t n, float p, uint64_t seed);

 private:
  size_t requests_ = 0;
};

void rnnForwardCpu(const RnnSpec& spec, const RnnIo& io);
void rnnBackwardCpu(const RnnSpec& spec, const RnnIo& io, const RnnGradIo& grads);

// Threads of the team that runs each call (like torch.set_num_threads); OpenBLAS itself runs
// single-threaded inside each member, so the two never compete for cores.
void setNumThreads(int n);
int getNumThreads();

}  // namespace rnn::cpu
