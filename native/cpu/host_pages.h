// Fresh result arrays: a forward's output is a new Float32Array per call (6.5 MB at 100 x 64 x 256), whose pages
// the kernel maps on first touch, one fault per 4 KB page. Measured in this VM: ~1.2 us of trap per fault, a fifth
// of an int8 LSTM forward at batch 64. Asking for transparent huge pages on the whole 2 MB-aligned part of such a
// buffer, before the forward first writes it, turns 512 faults per 2 MB into one; the memory and its contents
// stay the caller's (advice changes only how the kernel backs the pages).
#pragma once
#include <cstddef>

namespace rnn::cpu {

// Advises huge pages for [p, p + bytes) when it spans at least one aligned 2 MB page; a no-op otherwise or where
// the system does not support it.
void adviseHugePages(void* p, size_t bytes);

}  // namespace rnn::cpu
