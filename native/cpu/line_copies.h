// Line-aligned stand-ins for the caller's arrays that a thread team writes in place every step.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rnn::cpu {

// Members of a team write neighbouring units of h, c and of each output row every step. The caller's arrays (h_n,
// c_n, the output: from Node's allocator, which aligns to 16 bytes) rarely start on a 64-byte line, so the line at
// a member's bound holds units of both members and moves between their cores every step; the store waiting for it
// then holds up the member's next locked operation (BlockPhases' count of finished blocks). Measured (LSTM 100 x 1
// x 256 float32 packed once, 2 threads, Zen 5 dev VM, 12 alternating rounds): 598 -> 577 us mean minimum, lower in
// 12 of 12 rounds, with h, c and the output rows on lines of their own.
inline bool offLine(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 != 0; }

// n values that the members update in place (h, c): the caller's array while it starts on a line or when one
// thread runs the loop, else a copy in `piece` (bytes() of them, a line-aligned scratch piece), copied in at
// construction and back by copyBack().
template <class T>
struct LineCopy {
  T* caller;
  T* data;  // what the loop reads and writes
  size_t n;
  static size_t bytes(const T* p, size_t n, bool team) { return team && p && offLine(p) ? n * sizeof(T) : 0; }
  LineCopy(T* p, size_t n, bool team, uint8_t* piece)
      : caller(p), data(bytes(p, n, team) ? reinterpret_cast<T*>(piece) : p), n(n) {
    if (data != caller) std::memcpy(data, caller, n * sizeof(T));
  }
  void copyBack() const {
    if (data != caller) std::memcpy(caller, data, n * sizeof(T));
  }
};

// Output rows of `width` values `stride` apart, up to `batch` of them written by the members each step: rows of
// their own in `piece` (packed, each from a line on when width * sizeof(T) is a multiple of 64), copied out by
// copyBack(), while the caller's start off a line, a step's rows take at most 4 KB and all rows at most 1 MB; else
// the caller's. (The copy out costs ~0.05 us a KB on the caller's thread after the loop, and saves one line's
// round trip, ~0.3 us, a step: it pays for a few rows a step, not for many.)
template <class T>
struct RowCopies {
  T* caller;
  int64_t callerStride;
  T* data;  // row r at data + r * stride
  int64_t stride;
  int64_t rows;
  int width;
  static size_t bytes(const T* p, int64_t rows, int batch, int width, bool team) {
    const size_t row = size_t(width) * sizeof(T), n = size_t(rows) * row;
    return team && p && offLine(p) && batch * row <= 4096 && n <= (size_t(1) << 20) ? n : 0;
  }
  RowCopies(T* p, int64_t pStride, int64_t rows, int batch, int width, bool team, uint8_t* piece)
      : caller(p), callerStride(pStride), rows(rows), width(width) {
    const bool copy = bytes(p, rows, batch, width, team) != 0;
    data = copy ? reinterpret_cast<T*>(piece) : p;
    stride = copy ? width : pStride;
  }
  void copyBack() const {
    if (data == caller) return;
    for (int64_t r = 0; r < rows; ++r) std::memcpy(caller + r * callerStride, data + r * stride, width * sizeof(T));
  }
};

}  // namespace rnn::cpu
