// Derivatives, per unit j (PyTorch's equations, differentiated):
//   LSTM: c = f c' + i g, h = o tanh(c):  do = dh tanh(c), dc += dh o (1 - tanh^2 c), di = dc g, df = dc c',
//         dg = dc i, dc' = dc f; pre-activation grads di i(1-i), df f(1-f), dg (1-g^2), do o(1-o).
//   GRU:  h = (1-z) n + z h', n = tanh(a_n), a_n = x_n + b_in + r hn:  dn = dh (1-z), dz = dh (h' - n),
//         da_n = dn (1-n^2), dr = da_n hn; input side [dr r(1-r), dz z(1-z), da_n], recurrent side
//         [.., .., da_n r]; dh' gets dh z directly.
//   RNN:  h = act(a): da = dh (1 - h^2) for tanh, dh [h > 0] for relu.
#include "cell_backward.h"

#include "activations_vec.h"
#include "simd_dispatch.h"

namespace rnn::cpu {

// Wide vectors pass between always-inlined helpers only (activations_vec.h), so GCC's ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace {

// Whole registers of L units, then the block's tail one unit at a time (L = 1). Written on registers because
// GCC leaves these loops scalar in the AVX2 / AVX-512 clones (see activations_vec.h); tanh(c) is recomputed
// with the forward's tanh, so h and its derivative agree.
template <int L>
RNN_INLINE void lstmUnits(const float* dh, const float* s, const float* cp, float* dc, float* gx, int H, int j) {
  using V = vec::Lanes<L>;
  const auto i = V::load(s + j), f = V::load(s + H + j), g = V::load(s + 2 * H + j), o = V::load(s + 3 * H + j);
  const auto c = V::load(cp + j), d = V::load(dh + j);
  const auto tc = V::tanh(f * c + i * g);
  const auto dcj = V::load(dc + j) + d * o * (1.f - tc * tc);
  V::store(gx + j, dcj * g * i * (1.f - i));
  V::store(gx + H + j, dcj * c * f * (1.f - f));
  V::store(gx + 2 * H + j, dcj * i * (1.f - g * g));
  V::store(gx + 3 * H + j, d * tc * o * (1.f - o));
  V::store(dc + j, dcj * f);
}

template <int L>
RNN_INLINE void lstmBackward(const StepGradArgs& a) {
  const int n = a.hidden, H = a.gateStride;
  for (int b = 0; b < a.batch; ++b) {
    const float* dh = a.gradH + b * a.gradHStride;
    const float* s = a.saved + b * a.savedStride;
    const float* cp = a.cPrev + b * a.cPrevStride;
    float* dc = a.gradC + int64_t(b) * H;
    float* gx = a.gradGatesX + b * a.gradStride;
    int j = 0;
    for (; j + L <= n; j += L) lstmUnits<L>(dh, s, cp, dc, gx, H, j);
    for (; j < n; ++j) lstmUnits<1>(dh, s, cp, dc, gx, H, j);
  }
}

template <int L>
RNN_INLINE void gruUnits(const float* dh, const float* s, const float* hp, float* gx, float* gh, float* direct, int H,
                         int j) {
  using V = vec::Lanes<L>;
  const auto r = V::load(s + j), z = V::load(s + H + j), n = V::load(s + 2 * H + j), hn = V::load(s + 3 * H + j);
  const auto d = V::load(dh + j);
  const auto dan = d * (1.f - z) * (1.f - n * n);
  const auto dar = dan * hn * r * (1.f - r);
  const auto daz = d * (V::load(hp + j) - n) * z * (1.f - z);
  V::store(gx + j, dar);
  V::store(gh + j, dar);
  V::store(gx + H + j, daz);
  V::store(gh + H + j, daz);
  V::store(gx + 2 * H + j, dan);
  V::store(gh + 2 * H + j, dan * r);
  V::store(direct + j, d * z);
}

template <int L>
RNN_INLINE void gruBackward(const StepGradArgs& a) {
  const int n = a.hidden, H = a.gateStride;
  for (int b = 0; b < a.batch; ++b) {
    const float* dh = a.gradH + b * a.gradHStride;
    const float* s = a.saved + b * a.savedStride;
    const float* hp = a.hPrev + b * a.hPrevStride;
    float* gx = a.gradGatesX + b * a.gradStride;
    float* gh = a.gradGatesH + b * a.gradStride;
    float* direct = a.gradHDirect + int64_t(b) * H;
    int j = 0;
    for (; j + L <= n; j += L) gruUnits<L>(dh, s, hp, gx, gh, direct, H, j);
    for (; j < n; ++j) gruUnits<1>(dh, s, hp, gx, gh, direct, H, j);
  }
}

template <int L>
RNN_INLINE void rnnUnits(const float* dh, const float* h, float* gx, bool relu, int j) {
  using V = vec::Lanes<L>;
  using F = typename V::F;
  const F d = V::load(dh + j), y = V::load(h + j);
  V::store(gx + j, relu ? (y > 0.f ? d : F{}) : d * (1.f - y * y));
}

template <int L>
RNN_INLINE void rnnBackward(const StepGradArgs& a) {
  const int n = a.hidden;
  const bool relu = a.kind == CellKind::RnnRelu;
  for (int b = 0; b < a.batch; ++b) {
    const float* dh = a.gradH + b * a.gradHStride;
    const float* h = a.saved + b * a.savedStride;
    float* gx = a.gradGatesX + b * a.gradStride;
    int j = 0;
    for (; j + L <= n; j += L) rnnUnits<L>(dh, h, gx, relu, j);
    for (; j < n; ++j) rnnUnits<1>(dh, h, gx, relu, j);
  }
}

template <int Level>
RNN_INLINE void cellBackwardImpl(const StepGradArgs& a) {
  constexpr int L = simd::lanes(Level);
  switch (a.kind) {
    case CellKind::Lstm: lstmBackward<L>(a); break;
    case CellKind::Gru: gruBackward<L>(a); break;
    default: rnnBackward<L>(a); break;
  }
}

}  // namespace

RNN_DEFINE_DISPATCHED_FOR(StepGradArgs, cellBackward, cellBackwardImpl)

}  // namespace rnn::cpu
