#!/usr/bin/env node
// Builds the prebuilt CPU addon that `npm pack` ships: prebuilds/<platform>-<arch>/node_rnn.napi.<libc>.node (the
// prebuildify naming: Node-API, so one binary per platform and architecture serves every Node version), OpenBLAS
// linked statically (RNN_STATIC_OPENBLAS) so it needs no system OpenBLAS, no CUDA (a CUDA build is a source build).
// Runs from `prepack`; needs CMake, a C++ compiler and libopenblas-dev's static library.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { prebuiltPath } = require('./addon-paths');

if (process.argv.includes('--help')) {
  console.log('Usage: node scripts/prebuild.js\nBuilds ' + path.relative(process.cwd(), prebuiltPath(path.join(__dirname, '..'))) +
    ' (CPU only, static OpenBLAS, stripped) in build-prebuild/; `npm pack` runs it (prepack).');
  process.exit(0);
}
const root = path.join(__dirname, '..');
const cli = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    console.error(`node-rnn prebuild: ${[cmd, ...args].join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
};
run(process.execPath, [cli, 'compile', '--out', 'build-prebuild', '--CDRNN_CUDA=OFF', '--CDRNN_STATIC_OPENBLAS=ON']);
const target = prebuiltPath(root);
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.copyFileSync(path.join(root, 'build-prebuild', 'Release', 'node_rnn.node'), target);
run('strip', ['--strip-unneeded', target]);
console.log(`node-rnn prebuild: ${path.relative(root, target)} (${(fs.statSync(target).size / 2 ** 20).toFixed(1)} MiB)`);
