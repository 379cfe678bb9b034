#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer in its own build folder (build/asan, so the
# normal build/Release is untouched) and runs the native-heavy mocha specs against it through NODE_RNN_ADDON.
# simd-levels.test.js reruns the fixtures, bfloat16 and int8 specs at every lower NODE_RNN_SIMD level in child
# processes, which inherit the preload and NODE_RNN_ADDON: every kernel level runs sanitized.
# Node itself is not instrumented, so libasan is preloaded; leak detection is off because Node does not free
# everything at exit. UBSan reports do not abort (so one run lists them all); they are collected from the log.
#
#   bash scripts/asan.sh            # build + run the default spec list
#   bash scripts/asan.sh --no-build # reuse build/asan
#   ASAN_SPECS="dist/test/ops.test.js" bash scripts/asan.sh
[ "${1:-}" = --help ] && { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; }
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=build/asan
LOG=${ASAN_LOG:-$OUT/asan-run.log}
if [[ "${1:-}" != "--no-build" ]]; then
  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize=vptr -g"
  node "$(dirname "$(node -p "require.resolve('cmake-js/package.json')")")/bin/cmake-js" compile \
    --out "$OUT" --CDRNN_CUDA=OFF \
    --CDCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG $SAN" \
    --CDCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined"
fi
ADDON="$PWD/$OUT/Release/node_rnn.node"
[[ -f "$ADDON" ]] || { echo "asan: $ADDON was not built" >&2; exit 1; }
# The addon must really be instrumented, or a clean run would prove nothing.
# (grep reads all of nm's output: with -q it would stop early, nm would die of SIGPIPE and pipefail would fail)
nm -D "$ADDON" | grep __asan_ >/dev/null || { echo "asan: $ADDON has no ASan symbols" >&2; exit 1; }

npx tsc -p tsconfig.json >/dev/null || true  # type errors elsewhere do not stop the emit
PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
# Proves the specs will load this build, not build/Release.
NODE_RNN_ADDON="$ADDON" LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0 node -e \
  "require('./dist/lib/binding'); if (!require('fs').readFileSync('/proc/self/maps', 'utf8').includes('$OUT/Release/node_rnn.node')) process.exit(1)" \
  || { echo "asan: the sanitized addon was not the one loaded" >&2; exit 1; }
SPECS=${ASAN_SPECS:-"dist/test/binding.test.js dist/test/forward-fixtures.test.js dist/test/backward-fixtures.test.js \
dist/test/errors.test.js dist/test/packing.test.js dist/test/async.test.js dist/test/ops.test.js dist/test/autograd.test.js \
dist/test/functional.test.js dist/test/module.test.js dist/test/session.test.js dist/test/threads.test.js \
dist/test/training-fixtures.test.js dist/test/safetensors.test.js dist/test/tensor.test.js dist/test/limits.test.js \
dist/test/fuzz.test.js dist/test/cpu-int8.test.js dist/test/cpu-bf16.test.js dist/test/simd-levels.test.js"}

mkdir -p "$(dirname "$LOG")"
# Every process's reports also go to files (child processes' stderr is captured by the specs that spawn them).
REPORTS="$OUT/reports"
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
set +e
NODE_RNN_ADDON="$ADDON" \
  LD_PRELOAD="$PRELOAD" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1:print_summary=1:log_path=$PWD/$REPORTS/asan" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0:log_path=$PWD/$REPORTS/ubsan" \
  npx mocha --no-config --timeout 600000 --reporter dot $SPECS 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e

asan=$(cat "$LOG" "$REPORTS"/* 2>/dev/null | grep -c "ERROR: AddressSanitizer" || true)
ubsan=$(cat "$LOG" "$REPORTS"/* 2>/dev/null | grep -c "runtime error:" || true)
[[ -z "$(ls -A "$REPORTS")" ]] || { echo "asan: reports in $REPORTS:"; ls "$REPORTS"; }
echo "asan: mocha exit status $status; AddressSanitizer errors: $asan; UndefinedBehaviorSanitizer reports: $ubsan (log: $LOG)"
[[ $status -eq 0 && $asan -eq 0 && $ubsan -eq 0 ]]
