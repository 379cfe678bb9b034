// The layout of a precomputed input projection (float32 gate sums of all steps, before the recurrence), shared
// by the float32 and bfloat16 kernels.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rnn::cpu {

// Where a precomputed input projection keeps gate g of unit j (of group q = j / U) of row r:
// xg + q * groupStride + r * rowStride + g * gateStride + j % U.
// byRows: [rows, G H], as OpenBLAS writes it. byGroups: each group's rows together, [groups, rows, G U], so that
// a member's groups are one block of memory. Two members' columns side by side in every row (byRows) slowed
// every batch-1 call at 2 threads: the L2 prefetchers pull lines of the partner's columns into each core, and
// the partner's next writes have to take them back (measured, LSTM 100x1x256: each member's projection 180-200 us
// by rows, 150 us by groups or with separate buffers, the same as on one thread).
struct XgLayout {
  int64_t rowStride, groupStride, gateStride;
  static XgLayout byRows(int G, int H, int U) { return {int64_t(G) * H, U, H}; }
  static XgLayout byGroups(int G, int64_t rows, int U) { return {int64_t(G) * U, rows * G * U, U}; }
  // floats the layout needs for rows x groups (byRows: the kernels read whole groups, so the last row's slack)
  static size_t floats(int64_t rows, int G, int groups, int U) { return size_t(rows) * G * groups * U + U; }
  // a step's rows (every `every`-th row; row 0 at at(xg, r0))
  XgLayout rowsEvery(int64_t every) const { return {rowStride * every, groupStride, gateStride}; }
  template <class T>
  T* at(T* xg, int64_t r) const { return xg + r * rowStride; }
};

}  // namespace rnn::cpu
