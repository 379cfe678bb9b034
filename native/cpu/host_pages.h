// Fresh result arrays: a forward's output is a new Float32Array per call (6.5 MB at 100 x 64 x 256), whose pages
// the kernel maps on first touch, one fault per 4 KB page. Measured here (2-core VM, LSTM 100x64x256, 150-200
// calls in a loop): page faults 82-139 K -> 31-40 K, float32 23.3-24.8 -> 21.4-21.8 ms a call, int8 10.7-12.7 ->
// 9.6-10.0 ms. Asking for transparent huge pages on the whole 2 MB-aligned part of such a
// buffer, before the forward first writes it, turns 512 faults per 2 MB into one; the memory and its contents
// stay the caller's (advice changes only how the kernel backs the pages).
#pragma once
#include <cstddef>

namespace rnn::cpu {

// Advises huge pages for [p, p + bytes) when it spans at least one aligned 2 MB page; a no-op otherwise or where
// the system does not support it.
void adviseHugePages(void* p, size_t bytes);

}  // namespace rnn::cpu
