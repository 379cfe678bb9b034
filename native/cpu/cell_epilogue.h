// The cell update that ends every step kernel (float32 packed_step, bfloat16 bf16_step, int8 int8_step): one tile
// row's float32 gate sums in, the new c and h out. What differs between the kernels is a template argument:
//  - M, how a * b + c is computed (activations.h: ContractAt<L> for float32 and bfloat16, Fused for int8);
//  - Out, where h goes and in what type (FloatH, or Bf16H: rounded, GRU keeping a float32 copy);
//  - Save, whether the gates may be saved for the backward (float32 only).
#pragma once
#include <cstdint>

#include "activations_vec.h"
#include "bf16_convert.h"
#include "cell_dispatch.h"

// Wide vectors pass between always-inlined helpers only, so GCC's ABI note does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rnn::cpu::cell {

using namespace cell_dispatch;

// h in float32 (the float32 and int8 kernels).
struct FloatH {
  float* h;
  template <int L, class F>
  RNN_INLINE void store(int j, const F& v) const {
    vec::store(h + j, v);
  }
  template <int L, class F>
  RNN_INLINE void storeGru(int j, const F& v) const {
    vec::store(h + j, v);
  }
};

// h rounded to bfloat16 (the next step's operand and the output); GRU also keeps it in float32 at hF, because
// h' = (1 - z) n + z h carries h itself forward, not only through the rounded matrix product.
struct Bf16H {
  uint16_t* h;
  float* hF;
  template <int L, class F>
  RNN_INLINE void store(int j, const F& v) const {
    vec::Bf16<L>::store(h + j, v);
  }
  template <int L, class F>
  RNN_INLINE void storeGru(int j, const F& v) const {
    vec::store(hF + j, v);
    vec::Bf16<L>::store(h + j, v);
  }
};

// Two groups' h: each half of a Twin to its own group.
template <class Out>
struct TwinOut {
  Out a, b;
  template <int L, class F>
  RNN_INLINE void store(int j, const F& v) const {
    a.template store<L>(j, v.a);
    b.template store<L>(j, v.b);
  }
  template <int L, class F>
  RNN_INLINE void storeGru(int j, const F& v) const {
    a.template storeGru<L>(j, v.a);
    b.template storeGru<L>(j, v.b);
  }
};

// One tile row, from unit0 of its group on. Gate sums: block k of unit j at g + k * U + j (GRU: r, z, the input
// part of n, then W_hn h + b_hn, which r scales). In and State are plain pointers, or TwinPtrs for two groups at
// once (twinRow below).
template <class Out, class In = const float*, class State = float*>
struct Row {
  In g;
  State c;      // LSTM: the cell state, updated in place
  In hPrev;     // GRU: the previous h in float32
  Out h;
  State saved;  // null, or block k of unit j at saved + k * savedStride + j (LSTM i f g o, GRU r z n hn)
  int64_t savedStride;
};

template <class T>
RNN_INLINE vec::TwinPtr<T> twinPtr(T* a, T* b) {
  return {a, b};
}

// Two rows (two unit groups of one batch row) as one, for update2.
template <class Out>
RNN_INLINE Row<TwinOut<Out>, vec::TwinPtr<const float>, vec::TwinPtr<float>> twinRow(const Row<Out>& x,
                                                                                      const Row<Out>& y) {
  return {twinPtr(x.g, y.g),         twinPtr(x.c, y.c),         twinPtr(x.hPrev, y.hPrev),
          TwinOut<Out>{x.h, y.h},     twinPtr(x.saved, y.saved), x.savedStride};
}

// Units [j0, j1), L at a time (a register's lanes, or 1).
template <class M, int L, int U, int CellT, bool Save, class Out, class In, class State>
RNN_INLINE void units(const Row<Out, In, State>& row, int j0, int j1) {
  using V = vec::LanesFor<L, M, In>;
  const In g = row.g;
  const State s = Save ? row.saved : State{};
  const int64_t k = row.savedStride;
  if constexpr (CellT == kLstm) {
    // c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c')
    for (int j = j0; j < j1; j += L) {
      const auto i = V::sigmoid(V::load(g + j));
      const auto f = V::sigmoid(V::load(g + U + j));
      const auto cell = V::tanh(V::load(g + 2 * U + j));
      const auto o = V::sigmoid(V::load(g + 3 * U + j));
      if (Save && s) {
        V::store(s + j, i);
        V::store(s + k + j, f);
        V::store(s + 2 * k + j, cell);
        V::store(s + 3 * k + j, o);
      }
      const auto cNew = V::dot2(f, V::load(row.c + j), i, cell);
      V::store(row.c + j, cNew);
      row.h.template store<L>(j, o * V::tanh(cNew));
    }
  } else if constexpr (CellT == kGru) {
    // n = tanh(x_n + b_in + r (h_n + b_hn)), h' = (1 - z) n + z h
    for (int j = j0; j < j1; j += L) {
      const auto r = V::sigmoid(V::load(g + j));
      const auto z = V::sigmoid(V::load(g + U + j));
      const auto hn = V::load(g + 3 * U + j);
      const auto n = V::tanh(V::madd(r, hn, V::load(g + 2 * U + j)));
      if (Save && s) {
        V::store(s + j, r);
        V::store(s + k + j, z);
        V::store(s + 2 * k + j, n);
        V::store(s + 3 * k + j, hn);
      }
      row.h.template storeGru<L>(j, V::madd(z, V::load(row.hPrev + j) - n, n));
    }
  } else if constexpr (CellT == kTanh) {
    for (int j = j0; j < j1; j += L) row.h.template store<L>(j, V::tanh(V::load(g + j)));
  } else {
    // pre < 0 rather than pre > 0 so that NaN passes through, as in PyTorch
    for (int j = j0; j < j1; j += L) {
      const auto pre = V::load(g + j);
      row.h.template store<L>(j, select(pre < 0.f, typename V::F{}, pre));
    }
  }
}

// A row's `n` units: whole registers of L, then the tail of a group that H ends within, one unit at a time.
template <class M, int L, int U, int CellT, bool Save, class Out>
RNN_INLINE void update(const Row<Out>& row, int n) {
  static_assert(U % L == 0, "a group is whole registers");
  const int full = n == U ? U : 0;
  units<M, L, U, CellT, Save>(row, 0, full);
  units<M, 1, U, CellT, Save>(row, full, n);
}

// Two whole groups of one batch row, their chains interleaved (Twin, activations.h): the same operations as two
// update() calls, every rounding written out (madd), so the same bits.
template <class M, int L, int U, int CellT, bool Save, class Out>
RNN_INLINE void update2(const Row<Out>& x, const Row<Out>& y) {
  units<M, L, U, CellT, Save>(twinRow(x, y), 0, U);
}

// A tile's rows of one group (rowAt(m) gives row m's Row), two at a time as one Twin while the group is whole:
// consecutive rows' chains interleave (update2; measured int8 LSTM 100x64x256, 2 threads, 10 alternating rounds:
// 7359 -> 7130 us mean minimum, 10 of 10 rounds; GRU 5536 -> 5354, 7 of 8), the same bits as one row at a time.
template <class M, int L, int U, int CellT, bool Save, class RowAt>
RNN_INLINE void updateRows(int rows, int units, RowAt&& rowAt) {
  int m = 0;
  if (units == U) {
    for (; m + 1 < rows; m += 2) update2<M, L, U, CellT, Save>(rowAt(m), rowAt(m + 1));
  }
  for (; m < rows; ++m) update<M, L, U, CellT, Save>(rowAt(m), units);
}

// One batch row's groups at batch 1, their gate sums offered in unit order (NC floats a group): whole groups'
// updates run two at a time (update2), a whole group left without a partner waits, copied, for the next offer's
// first; a group that H ends within runs alone. rowOf(sums, unit0) gives a group's Row. The float32, bfloat16 and
// int8 steps all pair through here, so a group's bits do not depend on its partner or on the team's split
// (test/batch1-cells.test.ts), which holds because every rounding in the update is written out (activations.h).
template <class M, int L, int U, int CellT, bool Save, int NC, class RowOf>
class GroupPairs {
 public:
  GroupPairs(int H, RowOf rowOf) : H_(H), rowOf_(rowOf) {}

  // n groups' sums at sums + i NC, the first from unit0 on
  RNN_INLINE void offer(const float* sums, int n, int unit0) {
    int i = 0;
    if (heldUnit0_ >= 0 && n > 0 && unit0 + U <= H_) {
      update2<M, L, U, CellT, Save>(rowOf_(held_, heldUnit0_), rowOf_(sums, unit0));
      heldUnit0_ = -1;
      i = 1;
    }
    finish();
    for (; i < n; ++i) {
      const int u = unit0 + i * U;
      const float* g = sums + i * NC;
      if (u + U > H_) {
        update<M, L, U, CellT, Save>(rowOf_(g, u), H_ - u);
      } else if (i + 1 < n && u + 2 * U <= H_) {
        update2<M, L, U, CellT, Save>(rowOf_(g, u), rowOf_(g + NC, u + U));
        ++i;
      } else {
        for (int k = 0; k < NC; ++k) held_[k] = g[k];
        heldUnit0_ = u;
      }
    }
  }
  // the waiting group, if any, alone
  RNN_INLINE void finish() {
    if (heldUnit0_ < 0) return;
    update<M, L, U, CellT, Save>(rowOf_(held_, heldUnit0_), U);
    heldUnit0_ = -1;
  }

 private:
  alignas(64) float held_[NC];
  int heldUnit0_ = -1;
  int H_;
  RowOf rowOf_;
};

}  // namespace rnn::cpu::cell

#pragma GCC diagnostic pop
