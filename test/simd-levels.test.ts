// The CPU kernels exist at three instruction-set levels (AVX-512, AVX2, plain C++), chosen at run time; this
// machine runs the highest it has. NODE_RNN_SIMD=avx2|base lowers the level (read once when the addon loads), so
// each lower level runs the reference cases in a child process: the code paths other CPUs take cannot rot.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const MOCHA = require.resolve('mocha/bin/mocha.js');

describe('CPU kernels at lower instruction-set levels', function () {
  this.timeout(300000);
  for (const level of ['avx2', 'base']) {
    it(`NODE_RNN_SIMD=${level}: every reference case, forward and backward, still matches PyTorch`, () => {
      const run = spawnSync(
        process.execPath,
        [MOCHA, '--no-config', '--reporter', 'dot', '--timeout', '120000', 'dist/test/forward-fixtures.test.js', 'dist/test/backward-fixtures.test.js'],
        { cwd: ROOT, env: { ...process.env, NODE_RNN_SIMD: level }, encoding: 'utf8' },
      );
      assert.equal(run.status, 0, `mocha with NODE_RNN_SIMD=${level} failed:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
      assert.match(run.stdout, /\b(2[5-9]\d|[3-9]\d\d) passing/, 'all the reference cases ran');
    });
  }
});
