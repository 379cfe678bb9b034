// The CPU kernels exist at three instruction-set levels (AVX-512, AVX2, plain C++), chosen at run time, and the
// bfloat16 and int8 kernels at one more (AVX512_BF16's and AVX512_VNNI's dot products); this machine runs the
// highest it has. NODE_RNN_SIMD=avx2|base lowers the level and avx512 turns off only the dot products (read once
// when the addon loads), so each lower level runs the reference cases in a child process: the code paths other
// CPUs take cannot rot. The int8 results must be the same bits at every level: each run prints a digest of them.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { native } from '../lib/binding';
import { int8Digest } from './helpers/int8-runs';

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
  // the int8 digest of this process (the machine's own level), which every other level must reproduce
  let digest = '';
  const int8Line = (out: string, family: string): void => {
    digest ||= int8Digest();
    const m = out.match(/int8 kernels: family=(\w+) digest=([0-9a-f]+)/);
    assert.ok(m, 'the int8 run printed its digest');
    assert.equal(m[1], family);
    assert.equal(m[2], digest, `int8 results at ${family} differ from ${native.cpuKernels().int8}'s`);
  };
  for (const level of ['avx2', 'base']) {
    it(`NODE_RNN_SIMD=${level}: every reference case, forward and backward, still matches PyTorch; bfloat16 too; int8 the same bits; packed-once modules`, () => {
      const out = run(level, ['dist/test/forward-fixtures.test.js', 'dist/test/backward-fixtures.test.js', 'dist/test/cpu-bf16.test.js', 'dist/test/cpu-int8.test.js',
        'dist/test/inference.test.js', 'dist/test/inference-bf16.test.js', 'dist/test/batch1-cells.test.js']);
      assert.match(out, /\b([5-9]\d\d) passing/, 'all the reference cases ran');
      assert.match(out, new RegExp(`bfloat16 kernels: level=${level} dot=false`));
      int8Line(out, level);
    });
  }
  // AVX-512 without AVX512_BF16 (e.g. Skylake-X, Ice Lake): the float32 kernels are the default level's; only the
  // bfloat16 kernels take another path (widening the panels instead of VDPBF16PS)
  // int8 likewise: AVX512BW's VPMADDWD on int16 pairs instead of VPDPBUSD (Skylake-X without VNNI)
  it('NODE_RNN_SIMD=avx512: the bfloat16 and int8 reference cases without the BF16 and VNNI dot products; bfloat16 packed once', () => {
    const out = run('avx512', ['dist/test/cpu-bf16.test.js', 'dist/test/cpu-int8.test.js', 'dist/test/inference-bf16.test.js', 'dist/test/batch1-cells.test.js']);
    assert.match(out, /\b([3-9]\d\d) passing/, 'all the reference cases ran');
    assert.match(out, /bfloat16 kernels: level=(avx512|avx2|base) dot=false/);
    const level = native.cpuKernels().level;
    int8Line(out, level === 'avx512' ? (native.cpuKernels().int8 === 'avx2' ? 'avx2' : 'avx512') : level);
  });
});
