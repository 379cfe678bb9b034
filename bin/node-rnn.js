#!/usr/bin/env node
// `node-rnn <command>`: the commands are compiled TypeScript in dist/ (npm run build:ts).
'use strict';
const path = require('node:path');

const cli = path.join(__dirname, '..', 'dist', 'bench', 'cli.js');
let main;
try {
  ({ main } = require(cli));
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(cli)) {
    console.error(`node-rnn: ${cli} is missing; build the TypeScript first: npm run build:ts`);
    process.exit(1);
  }
  throw error;
}
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof Error ? (error.stack || error.message) : error);
    process.exitCode = 1;
  },
);
