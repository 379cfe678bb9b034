// The CPU kernels exist at three instruction-set levels (AVX-512, AVX2, plain C++), chosen at run time, and the
// bfloat16 kernels at one more (AVX512_BF16's dot product); this machine runs the highest it has.
// NODE_RNN_SIMD=avx2|base lowers the level and avx512 turns off only the BF16 dot product (read once when the
// addon loads), so each lower level runs the reference cases in a child process: the code paths other CPUs take
// cannot rot.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const MOCHA = require.resolve('mocha/bin/mocha.js');

describe('CPU kernels at lower instruction-set levels', function () {
  this.timeout(300000);
  const run = (level: string, specs: string[]): string => {
    const child = spawnSync(process.execPath, [MOCHA, '--no-config', '--reporter', 'dot', '--timeout', '120000', ...specs], {
      cwd: ROOT, env: { ...process.env, NODE_RNN_SIMD: level }, encoding: 'utf8',
    });
    assert.equal(child.status, 0, `mocha with NODE_RNN_SIMD=${level} failed:\n${child.stdout.slice(-3000)}\n${child.stderr.slice(-2000)}`);
    return child.stdout;
  };
  for (const level of ['avx2', 'base']) {
    it(`NODE_RNN_SIMD=${level}: every reference case, forward and backward, still matches PyTorch; bfloat16 too`, () => {
      const out = run(level, ['dist/test/forward-fixtures.test.js', 'dist/test/backward-fixtures.test.js', 'dist/test/cpu-bf16.test.js']);
      assert.match(out, /\b([4-9]\d\d) passing/, 'all the reference cases ran');
      assert.match(out, new RegExp(`bfloat16 kernels: level=${level} dot=false`));
    });
  }
  // AVX-512 without AVX512_BF16 (e.g. Skylake-X, Ice Lake): the float32 kernels are the default level's; only the
  // bfloat16 kernels take another path (widening the panels instead of VDPBF16PS)
  it('NODE_RNN_SIMD=avx512: the bfloat16 reference cases without the BF16 dot product', () => {
    const out = run('avx512', ['dist/test/cpu-bf16.test.js']);
    assert.match(out, /\b(1[4-9]\d) passing/, 'all the reference cases ran');
    assert.match(out, /bfloat16 kernels: level=(avx512|avx2|base) dot=false/);
  });
});
