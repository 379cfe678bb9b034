// The persistent forward and reverse loops (native/cuda/cuda_persistent_step.cu) run on the CPU through emu.h and
// checked against the same cell code (stepUnit, cellBackwardUnit) driven step by step with plain loops for the
// W_hh products: unit groups and row groups that do not divide H and B, several 8-row chunks per block, packed
// (shrinking) batches, reverse directions, float4 and scalar shared loads, strided outputs; then the planner on an
// H100-sized device. What this proves: the kernels' partitioning, reductions, barrier protocol and buffer
// alternation; what it cannot: CUDA's memory model and speed (the GPU check does those).
#include "emu.h"

#include "../../native/cuda/cuda_persistent_step.cu"

#include <cstdio>
#include <random>
#include <string>

using namespace rnn;
using namespace rnn::cuda;

namespace {

struct Case {
  const char* name;
  CellKind kind;
  int B, H, T;
  bool packed, reverse;
  int U, R;  // the plan: units and rows per block
};

std::mt19937 gen(20261126);

std::vector<float> randoms(size_t n, float scale = 0.5f) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

double relError(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += double(a[i] - b[i]) * double(a[i] - b[i]);
    norm += double(b[i]) * double(b[i]);
  }
  if (diff != diff) return 1e30;
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

int failures = 0;

void expectClose(const std::string& what, const std::vector<float>& got, const std::vector<float>& want) {
  const double e = relError(got, want);
  const bool ok = e <= 1e-5;
  if (!ok) ++failures;
  std::printf("  %-58s rel err %.2e %s\n", what.c_str(), e, ok ? "ok" : "FAILED");
}

void expect(const std::string& what, bool ok) {
  if (!ok) ++failures;
  std::printf("  %-58s %s\n", what.c_str(), ok ? "ok" : "FAILED");
}

void runCase(const Case& c) {
  std::printf("%s (B=%d H=%d T=%d U=%d R=%d%s%s)\n", c.name, c.B, c.H, c.T, c.U, c.R, c.packed ? ", packed" : "",
              c.reverse ? ", reverse" : "");
  const int B = c.B, H = c.H, P = H, T = c.T, G = gateCount(c.kind), GH = G * H;
  const bool lstm = c.kind == CellKind::Lstm, gru = c.kind == CellKind::Gru;
  const int savedBlocks = c.kind == CellKind::RnnTanh || c.kind == CellKind::RnnRelu ? 1 : 4;
  std::vector<int> sizes(size_t(T), B);
  if (c.packed) {
    for (int t = 0; t < T; ++t) sizes[size_t(t)] = std::max(1, B - (t * B) / T);
  }
  std::vector<int64_t> rowBase(static_cast<size_t>(T));
  int64_t rows = 0;
  for (int t = 0; t < T; ++t) {
    rowBase[size_t(t)] = rows;
    rows += sizes[size_t(t)];
  }
  const int64_t outStride = P + 3;  // as if a second direction's columns sat next to these
  const std::vector<float> w = randoms(size_t(GH) * P), xg = randoms(size_t(rows) * GH), biasX = randoms(size_t(GH)),
                           biasHn = randoms(size_t(H)), h0 = randoms(size_t(B) * P), c0 = randoms(size_t(B) * H);

  // ---- forward: the reference drives stepUnit with plain loops
  std::vector<float> hCur = h0, hNext(size_t(B) * P), cell = c0, out(size_t(rows) * outStride, 7.f);
  std::vector<float> gates(size_t(rows) * savedBlocks * H), hPrev(size_t(rows) * P), cPrev(size_t(rows) * H), hg(size_t(B) * GH);
  for (int s = 0; s < T; ++s) {
    const int t = c.reverse ? T - 1 - s : s, active = sizes[size_t(t)];
    for (int b = 0; b < active; ++b) {
      for (int q = 0; q < GH; ++q) {
        float sum = 0.f;
        for (int k = 0; k < P; ++k) sum += w[size_t(q) * P + k] * hCur[size_t(b) * P + k];
        hg[size_t(b) * GH + q] = sum;
      }
    }
    StepParams p{c.kind, B, active, H, P, xg.data(), rowBase[size_t(t)], 1, hg.data(), biasX.data(), biasHn.data(), hCur.data(),
                 hNext.data(), nullptr, lstm ? cell.data() : nullptr, out.data(), outStride, gates.data(), savedBlocks,
                 hPrev.data(), lstm ? cPrev.data() : nullptr, nullptr};
    for (int b = 0; b < B; ++b) {
      for (int j = 0; j < H; ++j) stepUnit(p, b, j, [&](int g) { return hg[size_t(b) * GH + size_t(g) * H + j]; });
    }
    std::swap(hCur, hNext);
  }

  const PersistentPlan plan{true, c.U, c.R, (H + c.U - 1) / c.U, (B + c.R - 1) / c.R, sharedBytesFor(G, c.U, c.R, P)};
  std::vector<float> hA = h0, hB(size_t(B) * P), c2 = c0, out2(size_t(rows) * outStride, 7.f);
  std::vector<float> gates2(gates.size()), hPrev2(hPrev.size()), cPrev2(cPrev.size());
  std::vector<PersistentStep> steps(static_cast<size_t>(T));
  for (int s = 0; s < T; ++s) {
    const int t = c.reverse ? T - 1 - s : s;
    steps[size_t(s)] = PersistentStep{rowBase[size_t(t)], sizes[size_t(t)], 0};
  }
  unsigned sync[2] = {0, 0};
  StepParams p{c.kind, B, B, H, P, xg.data(), 0, 1, nullptr, biasX.data(), biasHn.data(), hA.data(), hB.data(), nullptr,
               lstm ? c2.data() : nullptr, out2.data(), outStride, gates2.data(), savedBlocks, hPrev2.data(),
               lstm ? cPrev2.data() : nullptr, nullptr};
  expect("forward launch", launchPersistentStep(0, p, w.data(), steps.data(), T, hA.data(), hB.data(), sync, plan, nullptr) == cudaSuccess);
  expectClose("forward output (every row, strided)", out2, out);
  expectClose("forward h_n", T % 2 == 0 ? hA : hB, hCur);
  if (lstm) expectClose("forward c_n", c2, cell);
  expectClose("saved gates", gates2, gates);
  expectClose("saved h_{t-1}", hPrev2, hPrev);
  if (lstm) expectClose("saved c_{t-1}", cPrev2, cPrev);

  // ---- backward from the reference forward's saved state
  const std::vector<float> gradOut = randoms(size_t(rows) * outStride), dhN = randoms(size_t(B) * P), dcN = randoms(size_t(B) * H);
  std::vector<float> dh = dhN, dc = dcN, gx(size_t(rows) * GH), ghGru(gru ? size_t(rows) * GH : 0);
  float* gh = gru ? ghGru.data() : gx.data();
  for (int i = 0; i < T; ++i) {
    const int s = T - 1 - i, t = c.reverse ? T - 1 - s : s, active = sizes[size_t(t)];
    StepGradParams q{c.kind, active, H, rowBase[size_t(t)], 1, dh.data(), gradOut.data(), outStride, gru ? dh.data() : nullptr,
                     gates.data(), hPrev.data(), lstm ? cPrev.data() : nullptr, lstm ? dc.data() : nullptr, gx.data(), gh};
    for (int b = 0; b < active; ++b) {
      for (int j = 0; j < H; ++j) cellBackwardUnit(q, b, j);
    }
    for (int b = 0; b < active; ++b) {
      const int64_t row = rowBase[size_t(t)] + b;
      for (int k = 0; k < P; ++k) {
        float sum = 0.f;
        for (int r = 0; r < GH; ++r) sum += gh[row * GH + r] * w[size_t(r) * P + k];
        dh[size_t(b) * P + k] = (gru ? dh[size_t(b) * P + k] : 0.f) + sum;
      }
    }
  }
  std::vector<float> dh2 = dhN, dc2 = dcN, gx2(gx.size()), ghGru2(ghGru.size());
  float* gh2 = gru ? ghGru2.data() : gx2.data();
  std::vector<float> partials(persistentBackwardPartials(plan, B, H));
  std::vector<PersistentStep> back(static_cast<size_t>(T));
  for (int i = 0; i < T; ++i) {
    const int s = T - 1 - i, t = c.reverse ? T - 1 - s : s;
    back[size_t(i)] = PersistentStep{rowBase[size_t(t)], sizes[size_t(t)], 0};
  }
  unsigned sync2[2] = {0, 0};
  const StepGradParams q{c.kind, B, H, 0, 1, dh2.data(), gradOut.data(), outStride, gru ? dh2.data() : nullptr, gates.data(),
                         hPrev.data(), lstm ? cPrev.data() : nullptr, lstm ? dc2.data() : nullptr, gx2.data(), gh2};
  expect("backward launch",
         launchPersistentBackward(0, q, w.data(), back.data(), T, B, dh2.data(), partials.data(), sync2, plan, nullptr) == cudaSuccess);
  expectClose("backward dL/dh_0", dh2, dh);
  if (lstm) expectClose("backward dL/dc_0", dc2, dc);
  expectClose("backward gate gradients (input side)", gx2, gx);
  if (gru) expectClose("backward gate gradients (recurrent side)", ghGru2, ghGru);
  expect("no barrier timed out", !persistentStepAborted(0));
}

void checkPlans() {
  std::printf("planner on an H100-sized device (132 SMs, 227 KB of shared memory per block)\n");
  emu::device() = emu::Device{132, 232448};
  struct Shape {
    CellKind kind;
    int B, H;
    bool fits;
  };
  const Shape shapes[] = {{CellKind::Lstm, 1, 256, true},     {CellKind::Lstm, 64, 256, true},  {CellKind::Lstm, 64, 512, true},
                          {CellKind::Lstm, 1, 1024, true},    {CellKind::Lstm, 8, 1024, true},  {CellKind::Lstm, 16, 1024, true},
                          {CellKind::Lstm, 64, 1024, false},  {CellKind::Lstm, 1, 2048, false}, {CellKind::Gru, 64, 1024, false},
                          {CellKind::RnnTanh, 64, 256, true}, {CellKind::RnnTanh, 64, 1024, true}, {CellKind::Lstm, 3, 5, true}};
  for (const Shape& s : shapes) {
    const PersistentPlan plan = planPersistentStep(1, s.kind, s.B, s.H, s.H, false);
    const int G = gateCount(s.kind);
    char what[160];
    std::snprintf(what, sizeof what, "G=%d B=%d H=%d: %s (U=%d R=%d, %d blocks, %zu B)", G, s.B, s.H, plan.use ? "persistent" : "not persistent",
                  plan.unitsPerBlock, plan.rowsPerBlock, plan.unitGroups * plan.rowGroups, plan.sharedBytes);
    bool ok = plan.use == s.fits;
    if (plan.use) {
      ok = ok && plan.unitGroups * plan.rowGroups <= 132 && plan.sharedBytes <= 232448 - 1024 &&
           plan.unitGroups * plan.unitsPerBlock >= s.H && (plan.unitGroups - 1) * plan.unitsPerBlock < s.H &&
           plan.rowGroups * plan.rowsPerBlock >= s.B && (plan.rowGroups - 1) * plan.rowsPerBlock < s.B &&
           plan.sharedBytes == sharedBytesFor(G, plan.unitsPerBlock, plan.rowsPerBlock, s.H);
    }
    expect(what, ok);
  }
  expect("projections are never persistent", !planPersistentStep(1, CellKind::Lstm, 4, 64, 32, true).use);
}

// A barrier that can never fill (its counter starts just below wrapping around) must not hang: the watchdog
// stops the kernel, the host learns of it, and the device plans no persistent loop from then on.
void checkWatchdog() {
  std::printf("the grid-barrier watchdog\n");
  const int B = 3, H = 8, T = 4, G = 4;
  const std::vector<float> w = randoms(size_t(G) * H * H), xg = randoms(size_t(T) * B * G * H), bias = randoms(size_t(G) * H + H);
  std::vector<float> hA(size_t(B) * H), hB(size_t(B) * H), c(size_t(B) * H), out(size_t(T) * B * H);
  std::vector<PersistentStep> steps;
  for (int t = 0; t < T; ++t) steps.push_back(PersistentStep{int64_t(t) * B, B, 0});
  const PersistentPlan plan{true, 4, 3, 2, 1, sharedBytesFor(G, 4, 3, H)};
  unsigned sync[2] = {0u - 2u, 0};
  const StepParams p{CellKind::Lstm, B, B, H, H, xg.data(), 0, 1, nullptr, bias.data(), bias.data() + G * H, hA.data(), hB.data(),
                     nullptr, c.data(), out.data(), H};
  expect("a plan is used before", planPersistentStep(0, CellKind::Lstm, B, H, H, false).use);
  const auto start = std::chrono::steady_clock::now();
  expect("launch", launchPersistentStep(0, p, w.data(), steps.data(), T, hA.data(), hB.data(), sync, plan, nullptr) == cudaSuccess);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  expect("the kernel stopped after the 2 s timeout (" + std::to_string(seconds).substr(0, 4) + " s)", seconds >= 1.9 && seconds < 20);
  expect("persistentStepAborted reports it", persistentStepAborted(0));
  expect("and no persistent loop is planned on that device afterwards", !planPersistentStep(0, CellKind::Lstm, B, H, H, false).use);
  expect("other devices are not affected", planPersistentStep(1, CellKind::Lstm, B, H, H, false).use);
}

}  // namespace

int main() {
  emu::registerKernel(persistentStepKernel<true>);
  emu::registerKernel(persistentStepKernel<false>);
  emu::registerKernel(persistentBackwardKernel);
  emu::device() = emu::Device{132, 1 << 20};  // device 0: the hand-made plans below
  const Case cases[] = {
      {"LSTM, 3 unit groups (the last of 2 units) x 3 row groups", CellKind::Lstm, 5, 12, 6, false, false, 5, 2},
      {"GRU, scalar loads (P % 4 != 0), packed, reverse", CellKind::Gru, 7, 9, 5, true, true, 4, 3},
      {"RNN tanh, one block, two 8-row chunks, packed", CellKind::RnnTanh, 13, 16, 4, true, false, 16, 13},
      {"RNN relu, a block per unit and row", CellKind::RnnRelu, 3, 8, 3, false, true, 1, 1},
      {"LSTM, 17-row blocks, packed, reverse", CellKind::Lstm, 33, 8, 7, true, true, 3, 17},
      {"GRU, one step", CellKind::Gru, 2, 4, 1, false, false, 2, 2},
  };
  for (const Case& c : cases) runCase(c);
  checkPlans();
  checkWatchdog();  // last: device 0 plans no persistent loop after it
  if (failures) {
    std::printf("%d check(s) FAILED\n", failures);
    return 1;
  }
  std::printf("all persistent-loop checks passed\n");
  return 0;
}
