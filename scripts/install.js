#!/usr/bin/env node
// npm's install step for node-rnn. In the npm package the prebuilt CPU addon (prebuilds/) is used when it loads
// here; in a checkout (no prebuilt binary, native code to work on), otherwise, or when asked (`npm install --build-from-source`, or NODE_RNN_BUILD_FROM_SOURCE=1), or when a
// CUDA toolkit is present (the prebuilt binary is CPU-only), the addon is built from source with cmake-js. A failed
// source build for CUDA falls back to the prebuilt binary, saying so. The loader (lib/binding.ts) picks at load time
// too, so a package manager that skips install scripts still gets the prebuilt binary.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { prebuiltPath } = require('./addon-paths');

const root = path.join(__dirname, '..');
const prebuilt = prebuiltPath(root);

function prebuiltLoads() {
  if (!fs.existsSync(prebuilt)) return false;
  // in a child process: a binary that cannot load (an older glibc, say) must not take this script down
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(prebuilt)})`], { stdio: 'ignore' });
  return r.status === 0;
}

/** nvcc, when a CUDA toolkit with cuBLAS is installed (what the CMake build needs for its CUDA backend). */
function cudaToolkit() {
  const home = process.env.CUDA_PATH || process.env.CUDA_HOME || '/usr/local/cuda';
  const nvcc = process.env.CUDACXX || path.join(home, 'bin', 'nvcc');
  const libs = [path.join(home, 'lib64'), path.join(home, 'targets', `${process.arch === 'arm64' ? 'sbsa' : 'x86_64'}-linux`, 'lib')];
  const cublas = libs.some((dir) => fs.existsSync(path.join(dir, 'libcublas.so')));
  return fs.existsSync(nvcc) && cublas ? nvcc : null;
}

function buildFromSource() {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js')], { stdio: 'inherit', cwd: root });
  return r.status === 0;
}

// a checkout of node-rnn (it has the tests; the npm package has not) is for working on the native code: build it
const checkout = fs.existsSync(path.join(root, 'test'));
const asked = checkout || process.env.npm_config_build_from_source === 'true' || /^(1|true)$/i.test(process.env.NODE_RNN_BUILD_FROM_SOURCE || '');
const fits = prebuiltLoads();
const nvcc = fits && !asked ? cudaToolkit() : null;

if (fits && !asked && !nvcc) {
  console.log(`node-rnn: using the prebuilt CPU addon ${path.relative(root, prebuilt)} (build from source with: npm rebuild node-rnn --build-from-source)`);
  process.exit(0);
}
if (!fits && !asked && fs.existsSync(path.join(root, 'prebuilds'))) {
  console.log(`node-rnn: no prebuilt addon loads on ${process.platform}-${process.arch}; building from source`);
}
if (nvcc) console.log(`node-rnn: a CUDA toolkit with cuBLAS was found (${nvcc}): building from source for the CUDA backend`);
if (buildFromSource()) process.exit(0);
if (fits) {
  console.warn('node-rnn: the source build failed; using the prebuilt CPU addon instead (no CUDA). See the messages above to fix the build.');
  process.exit(0);
}
process.exit(1);
