#!/bin/bash
# Compiles the CUDA backend where no GPU and no cuBLAS are present (this machine, CI): every .cu file with nvcc,
# and every host source that includes CUDA headers (native/cuda/*.cpp, the binding with RNN_WITH_CUDA) with g++
# -fsyntax-only against the CUDA runtime headers and scripts/cuda-stub/cublas_v2.h. Catches what does not
# compile; only the GPU machine (scripts/gpu-check.sh) links and runs it.
[ "${1:-}" = --help ] && { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; }
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cuda-include.sh
if [ -z "$cuda_include" ]; then exit 0; fi
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
