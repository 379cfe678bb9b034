#!/bin/bash
# Builds the addon with its CUDA backend on the emulated device (emu.h, emu_*.cpp): every native source as
# for the GPU build (RNN_WITH_CUDA), the .cu files through transform.py, g++ instead of nvcc, no CUDA libraries.
# Output: build/emu/node_rnn.node; run-suites.sh runs the CUDA specs on it (NODE_RNN_ADDON=build/emu/node_rnn.node).
# Incremental: a source is recompiled when it, or any header or emulator file, is newer than its object.
# EMU_SANITIZE=1: with AddressSanitizer into build/emu-asan (run-suites.sh --sanitize runs the suite on it).
[ "${1:-}" = --help ] && { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; }
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/cuda-include.sh
if [ -z "$cuda_include" ]; then exit 0; fi
out=build/emu
optimize=(-O2)
link=()
if [ "${EMU_SANITIZE:-0}" = 1 ]; then
  out=build/emu-asan
  optimize=(-O1 -g -fsanitize=address -fno-omit-frame-pointer)
  link=(-fsanitize=address)
fi
mkdir -p "$out/src" "$out/obj"
node_include=$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")
addon_include=$(node -p "require('node-addon-api').include_dir")
blas_include=$(dirname "$(find /usr/include /usr/local/include -name cblas.h 2>/dev/null | head -n 1)")
# the definitions and math flags of CMakeLists.txt's build
common=(-std=c++20 "${optimize[@]}" -fno-math-errno -fno-trapping-math -fPIC -pthread -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS
        -DNODE_ADDON_API_DISABLE_DEPRECATED -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS -DRNN_WITH_CUDA
        '-DRNN_CUDA_REASON="emulated device"' -I"$node_include" -I"$addon_include" -I"$blas_include" -Inative/cuda
        -Iscripts/cuda-stub -I"$cuda_include")
# the CUDA sources (and the emulator) see the emulated runtime; its cuBLAS multiplies through the CPU's BLAS
emulated=(-DEMU_CBLAS -include scripts/cuda-emu/emu.h)
jobs=()
for f in native/cuda/*.cu; do
  gen="$out/src/$(basename "$f" .cu).cu.cpp"
  python3 scripts/cuda-emu/transform.py "$f" "$gen.new"
  # replaced only when it changed, so that its object is not rebuilt needlessly
  if cmp -s "$gen.new" "$gen"; then rm "$gen.new"; else mv "$gen.new" "$gen"; fi
  jobs+=("$gen")
done
jobs+=(native/core/*.cpp native/cpu/*.cpp native/binding/*.cpp native/cuda/*.cpp scripts/cuda-emu/emu_*.cpp)
# the compiler flags, rewritten only when they change (a change rebuilds everything)
echo "${common[*]} ${emulated[*]}" > "$out/flags.new"
if cmp -s "$out/flags.new" "$out/flags"; then rm "$out/flags.new"; else mv "$out/flags.new" "$out/flags"; fi
# the newest header, emulator file or flags file: an object older than it is rebuilt
newest_header=$(find native scripts/cuda-emu/emu.h scripts/cuda-emu/transform.py scripts/cuda-stub "$out/flags" -type f \
                  \( -name '*.h' -o -name '*.cuh' -o -name '*.py' -o -name flags \) -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
object() { echo "$out/obj/$(echo "$1" | tr '/' '_').o"; }
compile() {
  local f=$1 o
  o=$(object "$f")
  if [ -f "$o" ] && [ "$o" -nt "$f" ] && [ "$o" -nt "$newest_header" ]; then return 0; fi
  case "$f" in
    native/core/* | native/cpu/*) g++ "${common[@]}" -c "$f" -o "$o" ;;
    *) g++ "${common[@]}" "${emulated[@]}" -c "$f" -o "$o" ;;
  esac
}
pids=()
fail=0
for f in "${jobs[@]}"; do
  compile "$f" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$(nproc)" ]; then
    wait "${pids[0]}" || fail=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
if [ "$fail" -ne 0 ]; then echo "build-addon: compile failed" >&2; exit 1; fi
# the objects of today's sources only (one of a source since removed would still be in obj/)
objects=()
for f in "${jobs[@]}"; do objects+=("$(object "$f")"); done
g++ -shared -pthread ${link[@]+"${link[@]}"} -o "$out/node_rnn.node" "${objects[@]}" -lopenblas
echo "built $out/node_rnn.node (CUDA backend on the emulated device)"
