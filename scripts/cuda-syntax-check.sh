#!/bin/bash
# Compiles the CUDA backend where no GPU and no cuBLAS are present (this machine, CI): every .cu file with nvcc,
# and every host source that includes CUDA headers (native/cuda/*.cpp, the binding with RNN_WITH_CUDA) with g++
# -fsyntax-only against the CUDA runtime headers and scripts/cuda-stub/cublas_v2.h. Catches what does not
# compile; only the GPU machine (scripts/gpu-check.sh) links and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvcc >/dev/null 2>&1; then
  echo "cuda-syntax-check: nvcc not found: CUDA sources not compiled"
  exit 0
fi
cuda_include=${CUDA_HOME:-/usr/local/cuda}/include
if [ ! -f "$cuda_include/cuda_runtime_api.h" ]; then
  # nvcc knows where its headers are: the -I of its own include directory in a dry run
  cuda_include=$(nvcc --dryrun -c -x cu /dev/null 2>&1 | grep -o -- '-I"[^"]*include"' | head -n 1 | sed 's/^-I"//; s/"$//') || true
fi
if [ ! -f "$cuda_include/cuda_runtime_api.h" ]; then
  echo "cuda-syntax-check: the CUDA runtime headers were not found (set CUDA_HOME)" >&2
  exit 1
fi
node_include=$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")
addon_include=$(node -p "require('node-addon-api').include_dir")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in native/cuda/*.cu; do
  nvcc -std=c++17 -arch=sm_80 -c "$f" -o "$tmp/check.o"
  echo "nvcc compiled $f"
done
for f in native/cuda/*.cpp native/binding/*.cpp; do
  g++ -std=c++17 -fsyntax-only -DRNN_WITH_CUDA -DNAPI_VERSION=8 \
    -Iscripts/cuda-stub -I"$cuda_include" -I"$node_include" -I"$addon_include" "$f"
  echo "g++ checked $f (with CUDA)"
done
