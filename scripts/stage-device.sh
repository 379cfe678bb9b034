#!/bin/bash
# Prepares a GPU run (see scripts/gpu-check.sh --help): compiles the TypeScript, stages node and node_modules with the shared
# device-stage.sh, then trims .device-carry/node_modules to what the GPU run uses, because the tracked tree
# (about 15 MiB of fixtures) + dist + .device-carry must stay under the 64 MiB a run may carry.
[ "${1:-}" = --help ] && { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; }
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
# no TypeScript compiler there either: the README's doctest blocks are compiled here (test/readme.test.ts runs them)
node -e "require('./dist/test/helpers/readme-doctests.js').compileReadme().catch((e) => { console.error(e); process.exit(1); })"
bash ../shared/tools/device-stage.sh >/dev/null
rm -rf .device-carry/node_modules
mkdir -p .device-carry/node_modules
node scripts/device-closure.js | while read -r dir; do
  mkdir -p ".device-carry/$(dirname "$dir")"
  cp -a "$dir" ".device-carry/$dir"
done
tracked=$(git ls-files -z | du -mc --files0-from=- | tail -1 | cut -f1)
echo "staged: .device-carry $(du -sm .device-carry | cut -f1) MiB, dist $(du -sm dist | cut -f1) MiB, tracked files ${tracked} MiB (limit 64 MiB in all)"
