// The persistent time loop: one cooperative kernel runs every step of a layer-direction, each block keeping
// its slice of W_hh in shared memory for the whole sequence and the blocks meeting at a grid barrier between
// steps. Where W_hh fits on chip (its slices over all SMs) this removes, per step, the kernel launches, the
// re-reading of W_hh from L2 and the GEMM's tail effects that make the GEMM-per-step loop latency-bound at
// small batch (cuDNN keeps the same idea in its persistent kernels).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "../core/cell_kind.h"
#include "cuda_backward_kernels.h"
#include "cuda_kernels.h"

namespace rnn::cuda {

struct PersistentPlan {
  bool use = false;
  int unitsPerBlock = 0;  // U: a block owns every gate of U consecutive hidden units...
  int rowsPerBlock = 0;   // R: ...for R consecutive batch rows
  int unitGroups = 0;     // ceil(H / U)
  int rowGroups = 0;      // ceil(B / R); the grid is unitGroups * rowGroups blocks, at most one per SM
  size_t sharedBytes = 0; // W_hh slice [G*U, P], h_{t-1} rows [R, P], projections [G*U, R]
};

// One time step in processing order (reverse directions list t = T-1 first).
struct PersistentStep {
  int64_t rowBase;  // row of batch entry 0 at this step
  int active;       // rows active at this step (packed sequences)
  int unused;
};

// Whether (and how) a layer-direction's forward runs as one persistent kernel on `device` (the current
// device): float32, no projections, W_hh slices and the state rows fitting the SMs' shared memory, a device
// that supports cooperative launches. NODE_RNN_CUDA_PERSISTENT=0 turns it off (the GPU check runs the CUDA
// tests both ways).
PersistentPlan planPersistentStep(int device, CellKind kind, int batch, int hidden, int outSize, bool projected);

// Runs all `steps` time steps. p holds the fields every step shares (hCur, hNext, active and rowBase are set
// per step from hA / hB and steps[]). hA holds h_0 on entry and hB is a spare [B, P] buffer: the final state
// ends in hA when `stepCount` is even, else in hB. `sync` is two zeroed unsigned ints of device memory (the
// barrier counter and the abort flag). Returns the launch's error; on one, nothing ran and the caller may
// run the step-by-step loop instead.
cudaError_t launchPersistentStep(int device, const StepParams& p, const float* wHh, const PersistentStep* steps, int stepCount,
                                 float* hA, float* hB, unsigned* sync, const PersistentPlan& plan, cudaStream_t stream);

// The reverse loop of a layer-direction planned as persistent (the same plan as its forward): every step's cell
// backward (p: gradH = dh, gradC = the dL/dc state, GRU gradHInPlace = dh; active and rowBase come from steps[],
// given in the reverse loop's order) and dL/dh_{t-1} = dG_h W_hh, leaving the gate gradients of every row in
// p.gradGatesX / p.gradGatesH for the weight-gradient GEMMs and dL/dh_0 in dh. `partials` holds
// persistentBackwardPartials(plan, B, H) floats; `sync` as for the forward. Returns the launch's error (nothing
// ran: the caller runs the step loop).
size_t persistentBackwardPartials(const PersistentPlan& plan, int batch, int hidden);
cudaError_t launchPersistentBackward(int device, const StepGradParams& p, const float* wHh, const PersistentStep* steps, int stepCount,
                                     int batch, float* dh, float* partials, unsigned* sync, const PersistentPlan& plan,
                                     cudaStream_t stream);

// After the stream has finished: true when a persistent kernel on `device` gave up at a grid barrier (a
// watchdog that turns a would-be hang into an error). Results of that call are garbage; from then on the process
// plans no persistent loop on that device (the step loops take over).
bool persistentStepAborted(int device);

}  // namespace rnn::cuda
