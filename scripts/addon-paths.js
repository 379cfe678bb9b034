// Where the addon's builds live, shared by the loader (lib/binding.ts), the install script and the prebuild script.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** 'glibc' or 'musl' on Linux (a prebuilt binary links one C library); musl as node-gyp-build detects it. */
function libc() {
  if (process.platform !== 'linux') return '';
  return fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
}

/** The prebuilt addon for this platform, architecture and C library (prebuildify's layout and naming). */
function prebuiltPath(root) {
  const tags = ['node_rnn', 'napi', libc(), 'node'].filter(Boolean).join('.');
  return path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, tags);
}

/** Source builds (cmake-js or node-gyp), newest kind first. */
function sourceBuildPaths(root) {
  return [path.join(root, 'build', 'Release', 'node_rnn.node'), path.join(root, 'build', 'Debug', 'node_rnn.node')];
}

module.exports = { libc, prebuiltPath, sourceBuildPaths };
