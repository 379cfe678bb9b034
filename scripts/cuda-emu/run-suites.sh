#!/bin/bash
# Runs the test suite on the CUDA backend built for the emulated device (scripts/cuda-emu): builds
# build/emu/node_rnn.node if needed (build-addon.sh, incremental), checks that it loads with CUDA available on the
# emulated GPU (so that no CUDA spec skips itself), then runs the whole mocha suite on it (the CUDA specs
# test/cuda*.test.ts and the CUDA cases of the others) with the default switches (persistent, fused, cuBLAS and
# pipelined loops, CUDA graphs), and the CUDA specs again with every switch off (no graphs, the direct one-stream
# cuBLAS loop), as scripts/gpu-check.sh does on a GPU. CI runs it after run.sh. Needs nvcc's headers (not a GPU);
# without nvcc it says so and exits 0, like the other scripts/cuda-emu scripts.
set -euo pipefail
cd "$(dirname "$0")/../.."

usage() {
  cat <<'USAGE'
usage: bash scripts/cuda-emu/run-suites.sh [--cuda-only] [--default-only] [--sanitize] [--help] [-- MOCHA_ARGS...]

Runs the mocha suite on the CUDA backend built for the emulated device (scripts/cuda-emu): every spec with the
default CUDA switches, then dist/test/cuda*.test.js with NODE_RNN_CUDA_PERSISTENT/GRAPHS/FUSED/PIPELINE=0.
Builds the emulated addon when its sources changed (scripts/cuda-emu/build-addon.sh) and the TypeScript when
dist/ is missing. Prints a summary table last. Exit status: non-zero when a build, the CUDA check or a pass fails.

  --cuda-only      the first pass runs the CUDA specs only, not every spec
  --default-only   the default switches only (no second pass)
  --sanitize       build and run with AddressSanitizer (build/emu-asan, about twice as slow): reports every
                   out-of-bounds access of a kernel or a copy where it happens
  -- MOCHA_ARGS    passed to mocha in every pass, e.g. -- --grep 'TF32'
  --help           this text

Debugging (environment): EMU_GUARD_PAGES=1 puts every device allocation against an inaccessible page, so that a
bad access faults where it happens (run the failing spec under gdb).
USAGE
}

sanitize=0
passes=2
cuda_only=0
mocha_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --help | -h) usage; exit 0 ;;
    --sanitize) sanitize=1 ;;
    --default-only) passes=1 ;;
    --cuda-only) cuda_only=1 ;;
    --) shift; mocha_args=("$@"); break ;;
    *) echo "run-suites: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

source scripts/cuda-include.sh
if [ -z "$cuda_include" ]; then exit 0; fi
start=$SECONDS

addon=$PWD/build/emu/node_rnn.node
preload=''
if [ "$sanitize" = 1 ]; then
  EMU_SANITIZE=1 bash scripts/cuda-emu/build-addon.sh
  addon=$PWD/build/emu-asan/node_rnn.node
  preload=$(gcc -print-file-name=libasan.so)
  # Node is not instrumented and does not free everything at exit; fibers switch stacks under ASan's feet
  export ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0
else
  bash scripts/cuda-emu/build-addon.sh
fi
if [ ! -f dist/test/cuda.test.js ]; then npx tsc -p tsconfig.json; fi
echo "run-suites: addon ready after $((SECONDS - start))s"

run_node() { NODE_RNN_ADDON="$addon" LD_PRELOAD="$preload" "$@"; }

# The CUDA specs skip themselves when cuda.isAvailable() is false: make sure it is true, on the emulated GPU.
run_node node -e '
  const { cuda } = require("./dist/lib/index");
  const name = cuda.isAvailable() ? cuda.deviceName(0) : "";
  if (!name.startsWith("Emulated GPU")) {
    console.error(`run-suites: the emulated addon gives no CUDA (isAvailable ${cuda.isAvailable()}, device "${name}")`);
    process.exit(1);
  }
  console.log(`run-suites: cuda.isAvailable() on ${name}`);
'

cuda_specs=(dist/test/cuda.test.js dist/test/cuda-backward.test.js dist/test/cuda-ops.test.js dist/test/cuda-time-loops.test.js
            dist/test/cuda-half.test.js dist/test/cuda-charlm.test.js)
failed=0
summary=()
# One pass: a label, the switches (VAR=value words), then mocha's arguments. The timeout is long because the
# emulated device runs every GPU thread on the CPU.
run_pass() {
  local label=$1 config=$2 pass_start=$SECONDS log rc=0 counts
  shift 2
  echo
  echo "===== on the emulated device: $label ====="
  log=$(mktemp)
  # shellcheck disable=SC2086  # $config is a list of VAR=value words
  run_node env $config node node_modules/mocha/bin/mocha.js --timeout 600000 --reporter dot "$@" \
    ${mocha_args[@]+"${mocha_args[@]}"} 2>&1 | tee "$log" || rc=$?
  counts=$(grep -E '^ *[0-9]+ (passing|failing|pending)' "$log" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//') || true
  rm -f "$log"
  summary+=("$(printf '%-50s exit %-3s %-34s %4ss' "$label" "$rc" "${counts:-(no mocha summary)}" "$((SECONDS - pass_start))")")
  if [ "$rc" -ne 0 ]; then failed=1; fi
}

if [ "$cuda_only" = 1 ]; then
  run_pass "CUDA specs, default switches" "" --no-config "${cuda_specs[@]}"
else
  run_pass "every spec, default switches" ""  # the specs .mocharc.json lists
fi
if [ "$passes" = 2 ]; then
  run_pass "CUDA specs, PERSISTENT GRAPHS FUSED PIPELINE=0" \
    "NODE_RNN_CUDA_PERSISTENT=0 NODE_RNN_CUDA_GRAPHS=0 NODE_RNN_CUDA_FUSED=0 NODE_RNN_CUDA_PIPELINE=0" --no-config "${cuda_specs[@]}"
fi

echo
echo "===== run-suites summary ($((SECONDS - start))s in all) ====="
printf '%s\n' "${summary[@]}"
exit "$failed"
