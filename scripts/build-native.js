#!/usr/bin/env node
// Builds the native addon with cmake-js, after checking the one tool cmake-js cannot explain itself.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const cmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' });
if (cmake.error || cmake.status !== 0) {
  console.error('node-rnn: CMake was not found. Install it (Debian/Ubuntu: apt-get install -y cmake) and rebuild with: npm run build:native');
  process.exit(1);
}
const cli = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const result = spawnSync(process.execPath, [cli, 'compile', ...process.argv.slice(2)], { stdio: 'inherit', cwd: path.join(__dirname, '..') });
process.exit(result.status ?? 1);
