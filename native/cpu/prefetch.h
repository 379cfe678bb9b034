// Asking for a partner's freshly written h before a step reads it.
#pragma once
#include <cstddef>

namespace rnn::cpu {

// A step's h was just written, half of it (at two members) by the other core. The kernels read it in order, so
// each of the partner's lines held the kernel up in turn; asked for all at once, they arrive together. Measured
// (LSTM 256, batch 1, two members in a harness like scripts/step-kernel-probe.sh's two-member lines, Zen 5 dev VM,
// six alternating runs): a step 3.79-4.23 -> 3.46-3.79 us. Only while h is at most 4 KB (a few rows): a larger h
// is read over many tiles, and more prefetches would only queue.
inline void prefetchSmall(const void* p, size_t bytes) {
  if (bytes > 4096) return;
  const char* c = static_cast<const char*>(p);
  for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 3);
}

}  // namespace rnn::cpu
