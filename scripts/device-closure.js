#!/usr/bin/env node
// Prints the node_modules folders a GPU run needs (cmake-js, node-addon-api, node-api-headers, pure-rand, cli-progress,
// mocha, fast-check, and everything they depend on), one path per line, relative to the project root.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const roots = ['cmake-js', 'node-addon-api', 'node-api-headers', 'pure-rand', 'cli-progress', 'mocha', 'fast-check'];

function resolve(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

const keep = new Set();
const queue = roots.map((name) => [name, root]);
while (queue.length > 0) {
  const [name, from] = queue.pop();
  const dir = resolve(name, from);
  if (!dir || keep.has(dir)) continue;
  keep.add(dir);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) queue.push([dep, dir]);
}
console.log([...keep].map((dir) => path.relative(root, dir)).sort().join('\n'));
