#!/bin/bash
# One-shot check of the CUDA backend on a GPU machine: environment, CUDA build, the whole test suite, and
# forward timings next to PyTorch's cuDNN on the same shapes (bench/gpu-shapes.json).
#
# A session may be lent an H100/H200 for about 15 minutes in all, helpers included (the device tool; its `status`
# says whether); it has CUDA 13 with cuBLAS, CMake, OpenBLAS and PyTorch, but no Node and no registry. One run:
#  1. here: bash scripts/stage-device.sh   (compiles dist/, stages node + a trimmed node_modules in .device-carry/;
#     tracked files + dist + .device-carry must stay under the 64 MiB a run may carry: it prints the sizes)
#  2. device tool: run(command="bash .device-carry/enter.sh bash scripts/gpu-check.sh",
#     carry=[".device-carry", "dist"], timeout_s=540); GPU_CHECK_SKIP_BENCH=1 for a tests-only rerun
#  3. give the machine back (give_back) unless rerunning at once; record the card's name with every figure.
# scripts/torch_cuda_errors.py (on the GPU machine) regenerates test/fixtures/torch-cuda-errors.json (PyTorch's own
# CUDA errors, the TF32 gradient bar) if the fixtures change.
# It writes to $OUT: gpu-check.log (everything printed), build.log, test.log, bench.log, bench.json, bench.svg.
# Stages: a. environment  b. build with -DRNN_CUDA=ON and check cuda.isAvailable()  c. tests (mocha, whole
# suite, then the CUDA specs under the other time loops; failures are recorded, not fatal)  d. bench (node-rnn
# bench --device cuda --compare torch), its table printed before the tests table, which comes last
# e. A/B: node-rnn alone with the persistent loop and pipelining off, old/new per shape  f. the char-LM example
# trained on CUDA (npm run train -- --device cuda).
# Exit status: 1 if the build or the CUDA check failed (stops there), or if tests or a bench failed; else 0.
#
# Knobs (environment):
#   GPU_CHECK_SKIP_BUILD=1   keep an existing build/Release/node_rnn.node (a rerun on a warm machine)
#   GPU_CHECK_QUICK=1        fewer bench shapes (the torch-h100-quick preset)
#   GPU_CHECK_SKIP_BENCH=1   build and tests only (a correctness rerun that saves device time)
#   GPU_CHECK_AB=0           no A/B bench (node-rnn alone with the persistent loop and pipelining off)
#   GPU_CHECK_OPENBLAS=auto|carried|system   OpenBLAS for the build: the system's, else (auto) the copy staged
#                            in .device-carry/openblas.tar.xz if there is one
#
# The CMake build needs OpenBLAS (headers and library). If the GPU machine may lack it, stage this machine's
# copy (about 5 MB) next to node and node_modules, here, after device-stage.sh:
#     bash scripts/gpu-check.sh --stage-openblas
#
# No npm/npx on the GPU machine (enter.sh brings node only): the build calls cmake-js and the tests mocha
# directly, as `npm run build:native` and `npx mocha` would.
[ "${1:-}" = --help ] && { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; }
set -euo pipefail

cd "$(dirname "$0")/.."

# ---------------------------------------------------------------------------------------------------------
# --stage-openblas (run on the development machine): pack OpenBLAS's headers and library, and the Fortran
# runtime it needs, into .device-carry/openblas.tar.xz
# ---------------------------------------------------------------------------------------------------------
stage_openblas() {
  local lib hdr dir tmp dep
  lib=$(ldconfig -p 2>/dev/null | awk '$1 == "libopenblas.so.0" { print $NF; exit }') || true
  if [ -z "$lib" ]; then
    echo "gpu-check: no libopenblas.so.0 here (Debian/Ubuntu: apt-get install -y libopenblas-dev)" >&2
    return 1
  fi
  lib=$(readlink -f "$lib")
  hdr=''
  for cand in $(find /usr/include /usr/local/include -name cblas.h 2>/dev/null || true); do
    dir=$(dirname "$(readlink -f "$cand")")
    if [ -f "$dir/openblas_config.h" ]; then hdr=$dir; break; fi
  done
  if [ -z "$hdr" ]; then
    echo "gpu-check: OpenBLAS's cblas.h (next to openblas_config.h) was not found here" >&2
    return 1
  fi
  tmp=$(mktemp -d)
  mkdir -p "$tmp/openblas/include" "$tmp/openblas/lib" "$tmp/openblas/runtime"
  cp "$hdr/cblas.h" "$hdr/openblas_config.h" "$tmp/openblas/include/"
  if [ -f "$hdr/f77blas.h" ]; then cp "$hdr/f77blas.h" "$tmp/openblas/include/"; fi
  cp "$lib" "$tmp/openblas/lib/libopenblas.so.0"
  ln -s libopenblas.so.0 "$tmp/openblas/lib/libopenblas.so"
  # the Fortran runtime OpenBLAS links (used on the GPU machine only if it has none)
  for dep in $(ldd "$lib" | awk '$3 ~ /^\// && ($1 ~ /^libgfortran/ || $1 ~ /^libquadmath/) { print $1 "=" $3 }'); do
    cp "$(readlink -f "${dep#*=}")" "$tmp/openblas/runtime/${dep%%=*}"
  done
  mkdir -p .device-carry
  tar -C "$tmp" -cJf .device-carry/openblas.tar.xz openblas
  rm -rf "$tmp"
  echo "staged .device-carry/openblas.tar.xz ($(du -k .device-carry/openblas.tar.xz | cut -f1) KiB) from $lib and $hdr:"
  tar -tvJf .device-carry/openblas.tar.xz | awk '{ print "  " $0 }'
}

if [ "${1:-}" = "--stage-openblas" ]; then
  stage_openblas
  exit
fi
if [ $# -gt 0 ]; then
  echo "usage: OUT=folder bash scripts/gpu-check.sh   |   bash scripts/gpu-check.sh --stage-openblas" >&2
  exit 2
fi

: "${OUT:?set OUT to a folder for the logs and results}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# ---------------------------------------------------------------------------------------------------------
# Stages and their timings
# ---------------------------------------------------------------------------------------------------------
STAGE_NAME=''
STAGE_START=0
STAGE_TIMES=()
TEST_ROWS=()  # one line per mocha run, for the summary's table
end_stage() {
  if [ -n "$STAGE_NAME" ]; then
    local took=$((SECONDS - STAGE_START))
    printf -- '----- %s: %ss\n' "$STAGE_NAME" "$took"
    STAGE_TIMES+=("$STAGE_NAME ${took}s")
  fi
  STAGE_NAME=''
}
stage() {
  end_stage
  STAGE_NAME=$1
  STAGE_START=$SECONDS
  printf '\n===== %s  [%s, +%ss] =====\n' "$1" "$(date +%T)" "$SECONDS"
}

# OpenBLAS: true when the system has the library and a cblas.h (what CMakeLists.txt looks for)
system_openblas() {
  local libs hdrs
  libs=$(ldconfig -p 2>/dev/null | grep 'libopenblas\.so') || true
  hdrs=$(find /usr/include /usr/local/include -maxdepth 3 -name cblas.h 2>/dev/null) || true
  [ -n "$libs" ] && [ -n "$hdrs" ]
}

# a row of the tests table: what ran, its exit status, mocha's counts from its log
test_row() {
  local counts
  counts=$(grep -E '^ *[0-9]+ (passing|failing|pending)' "$3" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//') || true
  TEST_ROWS+=("$(printf '%-46s %-12s %s' "$1" "$(status "$2")" "${counts:-(no mocha summary)}")")
}

# an exit status, with a word for timeout's
status() {
  case "$1" in
    0) echo "0" ;;
    124 | 137) echo "$1 (timed out)" ;;
    *) echo "$1 (failed)" ;;
  esac
}

use_carried_openblas() {
  local prefix=/tmp/node-rnn-openblas
  if [ ! -f .device-carry/openblas.tar.xz ]; then
    echo "gpu-check: no .device-carry/openblas.tar.xz (stage it with: bash scripts/gpu-check.sh --stage-openblas)"
    exit 1
  fi
  rm -rf "$prefix"
  mkdir -p "$prefix"
  tar -C "$prefix" -xJf .device-carry/openblas.tar.xz
  export CMAKE_PREFIX_PATH="$prefix/openblas${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  local ldpath="$prefix/openblas/lib"
  if [ -z "$(ldconfig -p 2>/dev/null | grep 'libgfortran\.so\.5')" ]; then ldpath="$ldpath:$prefix/openblas/runtime"; fi
  export LD_LIBRARY_PATH="$ldpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "OpenBLAS: using the carried copy in $prefix/openblas (CMAKE_PREFIX_PATH, LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"
}

main() {
  local bench_args=()
  if [ "${GPU_CHECK_QUICK:-0}" = 1 ]; then bench_args+=(--shapes torch-h100-quick); fi

  # -------------------------------------------------------------------------------------------------------
  stage "a. environment"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "nvidia-smi failed: no NVIDIA driver on this machine?"
  echo "node $(node --version)"
  nvcc --version | tail -n 2 || echo "nvcc was not found (PATH=$PATH)"
  python3 -c 'import torch; print("torch", torch.__version__, "cudnn", torch.backends.cudnn.version(), "cuda available:", torch.cuda.is_available())' \
    || echo "python3 with torch failed"
  (cmake --version || echo "cmake was not found") | head -n 1 || true
  echo "cpus: $(nproc)"
  local missing=''
  for f in dist/lib/index.js dist/bench/cli.js bench/gpu-shapes.json bench/torch_peer.py node_modules/mocha/bin/mocha.js node_modules/cmake-js/bin/cmake-js; do
    if [ ! -e "$f" ]; then missing="$missing $f"; fi
  done
  if [ -n "$missing" ]; then
    echo "gpu-check: missing:$missing"
    echo "  (build dist here with 'npx tsc -p tsconfig.json', stage node_modules with ../shared/tools/device-stage.sh, carry dist and .device-carry, and run through .device-carry/enter.sh)"
    exit 1
  fi
  if [ ! -e dist/test/cuda.test.js ]; then echo "note: dist/test/cuda.test.js is missing: the CUDA tests are not in this dist"; fi
  case "${GPU_CHECK_OPENBLAS:-auto}" in
    system) echo "OpenBLAS: the system's (GPU_CHECK_OPENBLAS=system)" ;;
    carried) use_carried_openblas ;;
    *)
      if system_openblas; then
        echo "OpenBLAS: found on the system"
      elif [ -f .device-carry/openblas.tar.xz ]; then
        use_carried_openblas
      else
        echo "WARNING: no OpenBLAS found on this machine and none carried: the build will likely fail."
        echo "  Stage one on the development machine with: bash scripts/gpu-check.sh --stage-openblas"
      fi
      ;;
  esac

  # -------------------------------------------------------------------------------------------------------
  stage "b. build (-DRNN_CUDA=ON)"
  if [ "${GPU_CHECK_SKIP_BUILD:-0}" = 1 ] && [ -f build/Release/node_rnn.node ]; then
    echo "GPU_CHECK_SKIP_BUILD=1: keeping the existing build/Release/node_rnn.node"
  else
    rm -rf build
    # = npm run build:native -- --CDRNN_CUDA=ON (scripts/build-native.js runs `cmake-js compile`), with `build`
    # so that a failed build is not retried from scratch
    local brc=0
    timeout -k 10 360 node node_modules/cmake-js/bin/cmake-js build --CDRNN_CUDA=ON --parallel "$(nproc)" 2>&1 | tee "$OUT/build.log" || brc=$?
    if [ "$brc" -ne 0 ] || [ ! -f build/Release/node_rnn.node ]; then
      echo
      echo "gpu-check: BUILD FAILED (exit $(status "$brc"); full log in build.log). Error lines:"
      grep -n -i -E 'error|fatal|not found|undefined reference' "$OUT/build.log" | head -n 60 || true
      exit 1
    fi
  fi
  ls -la build/Release/node_rnn.node
  ldd build/Release/node_rnn.node | grep -E 'cublas|cudart|openblas|gfortran|not found' || true
  local crc=0
  node -e '
    let rnn;
    try { rnn = require("./dist/lib/index"); } catch (e) { console.error("cannot load node-rnn: " + e.message); process.exit(1); }
    if (!rnn.cuda) { console.error("dist/lib/index exports no cuda object: dist predates the CUDA API"); process.exit(1); }
    if (rnn.cuda.isAvailable()) {
      console.log("cuda.isAvailable(): true; " + rnn.cuda.deviceCount() + " device(s); device 0: " + rnn.cuda.deviceName(0));
      process.exit(0);
    }
    let why = "no reason given";
    try { rnn.cuda.synchronize(0); } catch (e) { why = e.message; }
    console.error("cuda.isAvailable() is false: " + why);
    process.exit(1);
  ' || crc=$?
  if [ "$crc" -ne 0 ]; then
    echo "gpu-check: CUDA IS NOT USABLE from node-rnn (see the line above); stopping before the tests and the bench"
    exit 1
  fi

  # -------------------------------------------------------------------------------------------------------
  stage "c. tests (mocha, whole suite)"
  local trc=0
  timeout -k 10 180 node node_modules/mocha/bin/mocha.js --reporter dot --exit 2>&1 | tee "$OUT/test.log" || trc=$?
  echo
  echo "mocha exit status: $(status "$trc")"
  local summary
  summary=$(grep -E '^ *[0-9]+ (passing|failing|pending)' "$OUT/test.log") || summary="(no mocha summary line: mocha crashed or was stopped; see the end of test.log)"
  echo "$summary"
  test_row "whole suite" "$trc" "$OUT/test.log"
  if grep -q -E '^ *[0-9]+ failing' "$OUT/test.log"; then
    echo "--- failures (first 200 lines; all in test.log) ---"
    sed -n '/^ *[0-9][0-9]* failing/,$p' "$OUT/test.log" | head -n 200 || true
  fi

  # the CUDA tests again under the other time loops, so each is proven on every reference case: without the
  # persistent kernel (CUDA graphs with the fused small-batch step: the previous default), then with none of them
  # and no pipelining (the direct, uncaptured, one-stream cuBLAS + step-kernel loop)
  local grc=0 config name
  for config in "NODE_RNN_CUDA_PERSISTENT=0" "NODE_RNN_CUDA_PERSISTENT=0 NODE_RNN_CUDA_GRAPHS=0 NODE_RNN_CUDA_FUSED=0 NODE_RNN_CUDA_PIPELINE=0"; do
    name=$(echo "$config" | tr -c 'A-Za-z0-9=\n' '_' | sed 's/NODE_RNN_CUDA_//g')
    local one=0
    env $config timeout -k 10 120 node node_modules/mocha/bin/mocha.js --no-config --timeout 60000 --reporter dot --exit \
      dist/test/cuda.test.js dist/test/cuda-backward.test.js dist/test/cuda-half.test.js dist/test/cuda-time-loops.test.js \
      dist/test/cuda-ops.test.js dist/test/cuda-charlm.test.js 2>&1 | tee "$OUT/test-$name.log" || one=$?
    echo "mocha (CUDA tests, $config) exit status: $(status "$one")"
    grep -E '^ *[0-9]+ (passing|failing|pending)' "$OUT/test-$name.log" || true
    test_row "CUDA specs, $(echo "$config" | sed 's/NODE_RNN_CUDA_//g; s/=0//g')=0" "$one" "$OUT/test-$name.log"
    if [ "$one" -ne 0 ]; then grc=$one; fi
  done
  if [ "$grc" -ne 0 ]; then trc=$grc; fi

  # -------------------------------------------------------------------------------------------------------
  local orc=0 prc=0
  if [ "${GPU_CHECK_SKIP_BENCH:-0}" = 1 ]; then
    end_stage
    echo "GPU_CHECK_SKIP_BENCH=1: no bench"
  else
  stage "d. bench"
  # node-rnn bench: node-rnn on the GPU, then PyTorch (python3 bench/torch_peer.py, cuDNN) on the same cases in the
  # same call; the table goes to bench.log (and is printed again last), the JSON to bench.json, a chart to bench.svg
  PYTHONUNBUFFERED=1 timeout -k 10 300 node bin/node-rnn.js bench --device cuda --shapes torch-h100 --compare torch \
    ${bench_args[@]+"${bench_args[@]}"} --json --plot "$OUT/bench.svg" 2> >(tee "$OUT/bench.log" >&2) > "$OUT/bench.json" || orc=$?
  wait  # for tee
  echo "node-rnn bench exit status: $(status "$orc")"
  # PyTorch's side counts as failed when any case has no torch time
  python3 -c 'import json, sys
rows = json.load(open(sys.argv[1]))["results"]
bad = [r["label"] + " " + r["pass"] for r in rows if (r["peers"].get("torch") or {}).get("status") != "ok"]
print("torch: %d of %d cases timed" % (len(rows) - len(bad), len(rows)))
sys.exit(1 if bad or not rows else 0)' "$OUT/bench.json" || prc=$?
  end_stage
  fi

  # -------------------------------------------------------------------------------------------------------
  # A/B: node-rnn alone on the same shapes with the persistent loop and the pipelined forward off (the
  # previous defaults), so each new path is judged against the old one on the same card in the same run
  local arc=0
  if [ "${GPU_CHECK_SKIP_BENCH:-0}" != 1 ] && [ "${GPU_CHECK_AB:-1}" = 1 ]; then
    stage "e. A/B (persistent loop and pipelining off)"
    NODE_RNN_CUDA_PERSISTENT=0 NODE_RNN_CUDA_PIPELINE=0 timeout -k 10 200 node bin/node-rnn.js bench --device cuda --shapes torch-h100 \
      ${bench_args[@]+"${bench_args[@]}"} --json 2> "$OUT/bench-ab.log" > "$OUT/bench-ab.json" || arc=$?
    echo "node-rnn bench (A/B) exit status: $(status "$arc")"
    python3 -c 'import json, sys
new = {(r["label"], r["pass"], r["precision"]): r for r in json.load(open(sys.argv[1]))["results"]}
old = {(r["label"], r["pass"], r["precision"]): r for r in json.load(open(sys.argv[2]))["results"]}
print("%-28s %-7s %-4s %-10s %9s %9s %7s" % ("shape", "pass", "prec", "loop", "new ms", "old ms", "old/new"))
for key, r in new.items():
    o = old.get(key)
    ms = lambda x: x["ours"]["ms"] if x and x["ours"]["status"] == "ok" else float("nan")
    a, b = ms(r), ms(o)
    print("%-28s %-7s %-4s %-10s %9.3f %9.3f %7.2f" % (key[0], key[1], "tf32" if key[2] == "tf32" else "fp32", r.get("loop", ""), a, b, b / a if a == a and a > 0 else float("nan")))
' "$OUT/bench.json" "$OUT/bench-ab.json" 2>&1 | tee "$OUT/ab.txt" || true
    end_stage
  fi

  # -------------------------------------------------------------------------------------------------------
  # the char-LM example trained on the GPU (the whole step on CUDA: Embedding, LSTM, Linear, crossEntropy, Adam)
  if [ "${GPU_CHECK_SKIP_BENCH:-0}" != 1 ]; then
    stage "f. npm run train -- --device cuda"
    timeout -k 10 150 node dist/examples/train-charlm.js --device cuda --out "$OUT/charlm.safetensors" > "$OUT/train.log" 2>&1 \
      || echo "train-charlm on CUDA exit status: $(status "$?")"
    grep -E '^(char-level|trained|held-out|target)' "$OUT/train.log" | tee "$OUT/train-summary.txt" || tail -n 5 "$OUT/train.log"
    end_stage
  fi

  # -------------------------------------------------------------------------------------------------------
  printf '\n===== summary  [%s, %ss in all] =====\n' "$(date +%T)" "$SECONDS"
  local times
  times=$(printf '%s, ' "${STAGE_TIMES[@]}")
  echo "stage times: ${times%, }"
  echo "tests: mocha exit $(status "$trc"); $(echo "$summary" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
  if [ "${GPU_CHECK_SKIP_BENCH:-0}" = 1 ]; then
    echo "bench: skipped (GPU_CHECK_SKIP_BENCH=1)"
    echo
    printf '%-46s %-12s %s\n' "tests (logs: test.log, test-*.log)" "exit" "mocha"
    printf '%s\n' "${TEST_ROWS[@]}"
  else
    echo "bench: node-rnn bench exit $(status "$orc"), torch $([ "$prc" -eq 0 ] && echo 'timed every case' || echo 'missing cases (see bench.log)')"
    echo
    # the bench's header and table, from bench.log
    grep -E '^(node-rnn [0-9]|device |timing:|PyTorch |torch: skipped|GEMM ceiling)' "$OUT/bench.log" || true
    sed -n '/^shape (T x B x I x H)/,$p' "$OUT/bench.log" | grep -v '^wrote ' || echo "(no table in bench.log)"
    if [ -f "$OUT/ab.txt" ]; then echo; echo "A/B, node-rnn only (old = NODE_RNN_CUDA_PERSISTENT=0 NODE_RNN_CUDA_PIPELINE=0):"; cat "$OUT/ab.txt"; fi
    if [ -f "$OUT/train-summary.txt" ]; then echo; echo "char-LM example on CUDA:"; cat "$OUT/train-summary.txt"; fi
    echo
    printf '%-46s %-12s %s\n' "tests (logs: test.log, test-*.log)" "exit" "mocha"
    printf '%s\n' "${TEST_ROWS[@]}"
  fi

  if [ "$trc" -ne 0 ] || [ "$orc" -ne 0 ] || [ "$prc" -ne 0 ]; then return 1; fi
}

main 2>&1 | tee "$OUT/gpu-check.log"
