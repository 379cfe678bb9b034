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

// Called once when the addon loads. Every call returns new result arrays, and the old ones are freed only when
// V8 collects them; glibc then gives the freed top of its heap back to the system (above 128 KB) and a later call
// maps fresh pages again, one fault per 4 KB page. Measured here (2-vCPU VM, int8 LSTM 100 x 1 x 256): a fault
// costs ~13 us, and calls alternated between 0.40 ms (no faults) and 0.75 ms (25-30 faults per call). So glibc is
// asked to keep up to 64 MB of freed memory and to serve blocks up to 8 MB from its heap. Skipped where the user
// tuned malloc already (GLIBC_TUNABLES, MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_) or set
// NODE_RNN_KEEP_FREED_MEMORY=0; a no-op on other C libraries.
void keepFreedMemory();

}  // namespace rnn::cpu
