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
// Both stand-ins are made before the recurrence's scratch is cut (bytes() is the piece they need, 0 for none) and
// placed on their piece by use().
inline bool offLine(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 != 0; }

// n values that the members update in place (h, c): the caller's array while it starts on a line or when one
// thread runs the loop, else a copy, filled by use() and copied back by copyBack().
template <class T>
class LineCopy {
 public:
  LineCopy(T* caller, size_t n, bool team) : caller_(caller), n_(n), copy_(team && caller && offLine(caller)) {}
  size_t bytes() const { return copy_ ? n_ * sizeof(T) : 0; }
  // what the loop reads and writes
  T* use(uint8_t* piece) {
    data_ = copy_ ? reinterpret_cast<T*>(piece) : caller_;
    if (copy_) std::memcpy(data_, caller_, n_ * sizeof(T));
    return data_;
  }
  void copyBack() const {
    if (copy_) std::memcpy(caller_, data_, n_ * sizeof(T));
  }

 private:
  T* caller_;
  T* data_ = nullptr;
  size_t n_;
  bool copy_;
};

// Output rows of `width` values `stride` apart, up to `batch` of them written by the members each step: rows of
// their own (packed, each from a line on when width * sizeof(T) is a multiple of 64), copied out by copyBack(),
// while the caller's start off a line, a step's rows take at most 4 KB and all rows at most 1 MB; else the
// caller's. (The copy out costs ~0.05 us a KB on the caller's thread after the loop, and saves one line's round
// trip, ~0.3 us, a step: it pays for a few rows a step, not for many.)
template <class T>
class RowCopies {
 public:
  RowCopies(T* caller, int64_t stride, int64_t rows, int batch, int width, bool team)
      : caller_(caller), callerStride_(stride), rows_(rows), width_(width),
        copy_(team && caller && offLine(caller) && size_t(batch) * width * sizeof(T) <= 4096 &&
              size_t(rows) * width * sizeof(T) <= (size_t(1) << 20)) {}
  size_t bytes() const { return copy_ ? size_t(rows_) * width_ * sizeof(T) : 0; }
  // where the loop writes: row r at data + r * stride
  T* data = nullptr;
  int64_t stride = 0;
  void use(uint8_t* piece) {
    data = copy_ ? reinterpret_cast<T*>(piece) : caller_;
    stride = copy_ ? width_ : callerStride_;
  }
  void copyBack() const {
    if (!copy_) return;
    for (int64_t r = 0; r < rows_; ++r) std::memcpy(caller_ + r * callerStride_, data + r * stride, width_ * sizeof(T));
  }

 private:
  T* caller_;
  int64_t callerStride_, rows_;
  int width_;
  bool copy_;
};

}  // namespace rnn::cpu
