#!/usr/bin/env bash
# Before timing on a shared VM: are CPUs 0 and 1 separate cores right now? Two probes, each on CPU 0 alone, then on
# CPUs 0 and 1 at once: streaming 512 KB from L2 (eight independent accumulators in registers, so the loads, not
# an add chain, set the pace) and register-only FMAs (16 independent chains). Separate cores keep their speed when
# both run; when the host has put both vCPUs on one core each gets about half (measured on the 2-vCPU Zen 5 dev VM:
# L2 ~210 GB/s alone and ~210 each on separate cores, but 60 each when shared; 2-thread timings are then worthless).
# The first version of this probe summed into a memory-resident array, was bound by that add chain (~100 GB/s,
# below the L2's speed), and said "separate" while both vCPUs shared a core.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/probe.c" <<'C'
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
__attribute__((target("avx512f"))) static double stream(void) {
  const size_t bytes = 512 * 1024, n = bytes / sizeof(float);
  float* a = aligned_alloc(64, bytes);
  for (size_t i = 0; i < n; i++) a[i] = (float)(i % 7);
  __m512 s[8];
  for (int j = 0; j < 8; j++) s[j] = _mm512_setzero_ps();
  const int reps = 8000;
  const double t0 = now();
  for (int r = 0; r < reps; r++)
    for (size_t i = 0; i < n; i += 128)
      for (int j = 0; j < 8; j++) s[j] = _mm512_add_ps(s[j], _mm512_load_ps(a + i + 16 * j));
  const double t = now() - t0;
  float sink = 0;
  for (int j = 0; j < 8; j++) sink += _mm512_reduce_add_ps(s[j]);
  free(a);
  return (double)reps * bytes / t / 1e9 + 0 * sink;
}
__attribute__((target("avx512f"))) static double fmas(void) {
  __m512 s[16], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int j = 0; j < 16; j++) s[j] = _mm512_set1_ps((float)j);
  const long reps = 20000000;
  const double t0 = now();
  for (long r = 0; r < reps; r++)
    for (int j = 0; j < 16; j++) s[j] = _mm512_fmadd_ps(s[j], m, c);
  const double t = now() - t0;
  float sink = 0;
  for (int j = 0; j < 16; j++) sink += _mm512_reduce_add_ps(s[j]);
  return reps * 16.0 * 32 / t / 1e9 + 0 * sink;  // GFLOP/s
}
int main(int argc, char** argv) {
  if (!__builtin_cpu_supports("avx512f")) { printf("0 0\n"); return 0; }
  printf("%.0f %.0f\n", stream(), fmas());
  return 0;
}
C
gcc -O3 "$dir/probe.c" -o "$dir/probe"
read -r l2 fma < <(taskset -c 0 "$dir/probe")
if [ "$l2" = 0 ]; then echo "no AVX-512 here: probe skipped"; exit 0; fi
taskset -c 0 "$dir/probe" > "$dir/a" & taskset -c 1 "$dir/probe" > "$dir/b"; wait
read -r l2a fmaa < "$dir/a"; read -r l2b fmab < "$dir/b"
echo "CPU 0 alone: L2 stream $l2 GB/s, FMAs $fma GFLOP/s; CPUs 0 and 1 at once: L2 $l2a and $l2b GB/s, FMAs $fmaa and $fmab GFLOP/s"
if [ $(( l2a + l2b )) -lt $(( l2 * 3 / 2 )) ] || [ $(( fmaa + fmab )) -lt $(( fma * 3 / 2 )) ]; then
  echo "CPUs 0 and 1 share a core now: 2-thread timings are not representative"
else
  echo "CPUs 0 and 1 are separate cores now"
fi
