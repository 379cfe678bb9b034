#!/bin/bash
# Runs the persistent loops and the pipelined forward on the CPU (emu.h: an emulated device, GPU threads on fibers,
# synchronous streams) against the paths the GPU tests verify. CI runs it after the CUDA syntax check; it
# needs g++ (C++20) and the CUDA headers that come with nvcc, not a GPU or cuBLAS.
[ "${1:-}" = --help ] && { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; }
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/cuda-include.sh
if [ -z "$cuda_include" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-std=c++20 -O1 -pthread -I"$cuda_include" -Iscripts/cuda-stub -include scripts/cuda-emu/emu.h)

# the emulator (emu_*.cpp), compiled once for both tests
emulator=()
for f in scripts/cuda-emu/emu_*.cpp; do
  g++ "${flags[@]}" -c "$f" -o "$tmp/$(basename "$f").o"
  emulator+=("$tmp/$(basename "$f").o")
done

g++ "${flags[@]}" scripts/cuda-emu/persistent_test.cpp "${emulator[@]}" -o "$tmp/persistent_test"
"$tmp/persistent_test"

objects=()
for f in scripts/cuda-emu/pipelined_test.cpp native/cuda/cuda_backend.cpp native/cuda/cuda_pipelined_forward.cpp \
         native/cuda/cuda_context.cpp native/core/rnn_spec.cpp; do
  g++ "${flags[@]}" -c "$f" -o "$tmp/$(basename "$f").o"
  objects+=("$tmp/$(basename "$f").o")
done
g++ "${flags[@]}" -x c++ -c native/cuda/cuda_persistent_step.cu -o "$tmp/persistent.o"
# the element conversions CudaBackend::convert calls: kernel launches (<<<...>>>) rewritten as build-addon.sh does
# (generated two folders down, so that its "../core/..." includes resolve only through -Inative/cuda)
mkdir -p "$tmp/gen/src"
python3 scripts/cuda-emu/transform.py native/cuda/cuda_half_kernels.cu "$tmp/gen/src/half_kernels.cu.cpp"
g++ "${flags[@]}" -Inative/cuda -c "$tmp/gen/src/half_kernels.cu.cpp" -o "$tmp/half_kernels.o"
g++ -pthread "${objects[@]}" "${emulator[@]}" "$tmp/persistent.o" "$tmp/half_kernels.o" -o "$tmp/pipelined_test"
"$tmp/pipelined_test"
