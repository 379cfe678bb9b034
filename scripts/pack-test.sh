#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (prepack builds the TypeScript and the prebuilt addon), then, in a scratch
# project, on a PATH without CMake or any C/C++ compiler, `npm install ./node-rnn-*.tgz` and an LSTM forward. The
# addon loaded must be the prebuilt binary, and ldd must show no OpenBLAS from the system (it is linked in).
# Usage: bash scripts/pack-test.sh [--keep]   (--keep leaves the scratch project and prints its path)
set -euo pipefail
if [ "${1:-}" = "--help" ]; then sed -n '2,5p' "$0" | sed 's/^# //'; exit 0; fi
cd "$(dirname "$0")/.."
root=$PWD

rm -f node-rnn-*.tgz
npm pack --silent >/dev/null
tgz=$(ls "$root"/node-rnn-*.tgz)
listing=$(tar tzf "$tgz")
echo "pack-test: $(basename "$tgz") $(du -h "$tgz" | cut -f1), $(echo "$listing" | wc -l) files, prebuilt: $(echo "$listing" | grep '^package/prebuilds/' | tr '\n' ' ')"
echo "$listing" | grep -qx 'package/prebuilds/linux-x64/node_rnn.napi.glibc.node' || { echo "pack-test: the tarball holds no prebuilt addon"; exit 1; }

scratch=$(mktemp -d /tmp/node-rnn-pack-test.XXXXXX)
trap '[ "${1:-}" = "--keep" ] && echo "pack-test: kept $scratch" || rm -rf "$scratch"' EXIT
# a PATH holding everything the system has except build tools
mkdir "$scratch/bin"
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin "$(dirname "$(command -v node)")"; do
  [ -d "$dir" ] || continue
  for f in "$dir"/*; do
    name=$(basename "$f")
    case "$name" in
      cmake* | ctest | cpack | make | gmake | ninja | nvcc | cc | c++ | *-cc | *gcc* | *g++* | *c++-* | clang* | cpp | *-cpp*) continue ;;
    esac
    [ -e "$scratch/bin/$name" ] || ln -s "$f" "$scratch/bin/$name"
  done
done
export PATH="$scratch/bin"
for tool in cmake g++ gcc c++ cc make; do
  if command -v "$tool" >/dev/null; then echo "pack-test: $tool is still on the PATH"; exit 1; fi
done

mkdir "$scratch/app" && cd "$scratch/app"
echo '{ "name": "scratch-app", "version": "1.0.0", "private": true }' > package.json
start=$(date +%s.%N)
npm install --no-audit --no-fund "$tgz"
echo "pack-test: npm install of the tarball took $(echo "$(date +%s.%N) - $start" | bc) s"

cat > forward.js <<'JS'
const rnn = require('node-rnn');
rnn.manualSeed(0);
const lstm = new rnn.LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 2 });
const [out, [h, c]] = rnn.noGrad(() => lstm.forward(rnn.randn([4, 2, 3])));
const info = rnn.addonInfo();
console.log(JSON.stringify({ addon: info, blas: rnn.blasInfo().config, out: out.shape, h: h.shape, c: c.shape, sample: out.data[0] }));
if (info.source !== 'prebuilt') throw new Error(`loaded the ${info.source} build, not the prebuilt one`);
if (out.shape.join() !== '4,2,5' || !out.data.every(Number.isFinite)) throw new Error('bad forward output');
JS
result=$(node forward.js)
echo "pack-test: $result"
addon=$(node -e "console.log(require('node-rnn').addonInfo().file)")
ldd "$addon"
if ldd "$addon" | grep -i blas; then echo "pack-test: the prebuilt addon links a system BLAS"; exit 1; fi
# the install script (npm 11 skips it until approved; other package managers run it) keeps the prebuilt binary here
msg=$(node node_modules/node-rnn/scripts/install.js)
echo "pack-test: install script: $msg"
case "$msg" in *"using the prebuilt CPU addon"*) ;; *) echo "pack-test: the install script did not take the prebuilt addon"; exit 1 ;; esac
# without a fitting prebuilt binary and without build tools, the loader says what it tried and how to fix it
mv "$addon" "$addon.away"
if err=$(node forward.js 2>&1); then echo "pack-test: loaded without any addon?"; exit 1; fi
echo "$err" | grep -q "Tried:" && echo "$err" | grep -q "npm rebuild node-rnn --build-from-source" || { echo "pack-test: unhelpful loader error: $err"; exit 1; }
mv "$addon.away" "$addon"
echo "pack-test: OK (prebuilt addon loaded without a compiler, no system OpenBLAS linked)"
