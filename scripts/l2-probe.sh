#!/usr/bin/env bash
# Before timing on a shared VM: are CPUs 0 and 1 separate cores right now? Streams 256 KB (an L2-resident working
# set) on one CPU, then on both at once. Separate cores keep most of their bandwidth when both stream; SMT siblings
# of one core split it (measured on the 2-vCPU dev VM: 160-220 GB/s alone, ~150 each on separate cores, ~80 each
# when the host had put the vCPUs on one core, and every 2-thread timing was then 1.6-1.8x slower).
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/probe.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
typedef float v16 __attribute__((vector_size(64)));
int main(void) {
  const size_t n = 256 * 1024 / sizeof(v16);
  v16* a = aligned_alloc(64, n * sizeof(v16));
  for (size_t i = 0; i < n; i++) a[i] = (v16){} + (float)(i % 7);
  v16 s[8] = {{0}};
  struct timespec t0, t1;
  const int reps = 20000;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int r = 0; r < reps; r++)
    for (size_t i = 0; i < n; i += 8)
      for (int j = 0; j < 8; j++) s[j] += a[i + j];
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const double t = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
  printf("%.0f\n", (double)reps * n * sizeof(v16) / t / 1e9 + 0 * s[0][0] + 0 * s[7][3]);
  return 0;
}
C
gcc -O2 -march=native "$dir/probe.c" -o "$dir/probe"
alone=$(taskset -c 0 "$dir/probe")
taskset -c 0 "$dir/probe" > "$dir/a" & taskset -c 1 "$dir/probe" > "$dir/b"; wait
echo "L2 stream on CPU 0 alone: $alone GB/s; on CPUs 0 and 1 at once: $(cat "$dir/a") and $(cat "$dir/b") GB/s"
if [ $(( $(cat "$dir/a") + $(cat "$dir/b") )) -lt $(( alone * 5 / 4 )) ]; then
  echo "CPUs 0 and 1 share a core now: 2-thread timings are not representative"
else
  echo "CPUs 0 and 1 are separate cores now"
fi
