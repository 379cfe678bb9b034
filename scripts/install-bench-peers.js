#!/usr/bin/env node
// `npm run bench:peers`: installs the benchmark's optional peers (bench/peers: onnxruntime-node, TensorFlow.js with
// its wasm backend) from their own lockfile. onnxruntime-node's install script only downloads GPU execution
// providers from the network; its CPU build is bundled, which is all the bench uses, so that download is skipped.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

if (process.argv.includes('--help')) {
  console.log('Usage: npm run bench:peers\nInstalls bench/peers (onnxruntime-node, @tensorflow/tfjs, @tensorflow/tfjs-backend-wasm) for `node-rnn bench --compare`.');
  process.exit(0);
}
const dir = path.join(__dirname, '..', 'bench', 'peers');
const npm = process.env.npm_execpath;
const [cmd, args] = npm ? [process.execPath, [npm]] : ['npm', []];
const result = spawnSync(cmd, [...args, 'ci', '--no-audit', '--no-fund'], {
  cwd: dir,
  stdio: 'inherit',
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
});
if (result.status !== 0) {
  console.error(`node-rnn: installing the bench peers in ${dir} failed (exit ${result.status ?? result.signal}); the library itself is unaffected.`);
}
process.exit(result.status ?? 1);
