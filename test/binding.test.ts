// The loader: a source build first, then the prebuilt binary; a missing or broken build must explain what was tried
// and how to fix it, not show a bare dlopen trace.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addonCandidates, loadedAddon, loadNative } from '../lib/binding';
import { addonInfo } from '../lib/index';

describe('native loader', () => {
  it('explains what it tried and how to build when no build exists', () => {
    const missing = path.join(os.tmpdir(), 'no-such-dir', 'node_rnn.node');
    assert.throws(() => loadNative([missing, { file: missing + '.prebuilt', source: 'prebuilt' }]), (e: Error) => {
      assert.ok(e.message.includes(`no native build was found for ${process.platform}-${process.arch}`), e.message);
      assert.ok(e.message.includes(`${missing} (source): not present`), e.message);
      assert.ok(e.message.includes(`${missing}.prebuilt (prebuilt): not present`), e.message);
      assert.match(e.message, /apt-get install -y cmake g\+\+ libopenblas-dev/);
      assert.match(e.message, /npm rebuild node-rnn --build-from-source/);
      assert.match(e.message, /npm run build:native/);
      return true;
    });
  });

  it('reports a build that exists but cannot be loaded, and goes on to the next candidate', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-rnn-loader-'));
    const broken = path.join(dir, 'node_rnn.node');
    fs.writeFileSync(broken, 'not a shared library');
    try {
      assert.throws(() => loadNative([broken]), (e: Error) => {
        assert.match(e.message, /the build could not be loaded/);
        assert.ok(e.message.includes(`${broken} (source): could not be loaded: `), e.message);
        assert.match(e.message, /npm run build:native/);
        return true;
      });
      // a broken source build falls back to a working one (here the real build, standing in for the prebuilt)
      const real = loadedAddon();
      const native = loadNative([broken, { file: real.file, source: 'prebuilt' }]);
      assert.equal(typeof native.rnnForward, 'function');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a build from other sources that lacks a function this TypeScript calls', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-rnn-loader-'));
    const stale = path.join(dir, 'stale.js');
    const real = require(loadedAddon().file) as Record<string, unknown>;
    // every export of the real build but two, as a build from older sources would be
    const kept = Object.keys(real).filter((k) => k !== 'cudaGemmBatched' && k !== 'cpuKernels');
    fs.writeFileSync(stale, `const real = require(${JSON.stringify(loadedAddon().file)});\nmodule.exports = {};\n` +
      `for (const k of ${JSON.stringify(kept)}) module.exports[k] = real[k];\n`);
    try {
      assert.throws(() => loadNative([stale]), (e: Error) => {
        assert.match(e.message, /the build could not be loaded/);
        assert.ok(e.message.includes(`${stale} (source): built from other sources, it lacks cpuKernels, cudaGemmBatched`), e.message);
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tries the source builds, then the prebuilt binary for this platform', () => {
    const saved = process.env.NODE_RNN_ADDON;
    delete process.env.NODE_RNN_ADDON;
    try {
      const c = addonCandidates();
      assert.deepEqual(c.map((x) => x.source), ['source', 'source', 'prebuilt']);
      assert.match(c[0].file, /build[/\\]Release[/\\]node_rnn\.node$/);
      assert.match(c[2].file, new RegExp(`prebuilds[/\\\\]${process.platform}-${process.arch}[/\\\\]node_rnn\\.napi\\.(glibc|musl)\\.node$`));
      process.env.NODE_RNN_ADDON = 'some/where.node';
      assert.deepEqual(addonCandidates(), [{ file: path.resolve('some/where.node'), source: 'NODE_RNN_ADDON' }]);
    } finally {
      if (saved === undefined) delete process.env.NODE_RNN_ADDON;
      else process.env.NODE_RNN_ADDON = saved;
    }
  });

  it('loads the real build and says which one', () => {
    const native = loadNative();
    assert.equal(typeof native.rnnForward, 'function');
    assert.equal(typeof native.rnnForwardAsync, 'function');
    const info = addonInfo();
    assert.ok(fs.existsSync(info.file), info.file);
    assert.ok(['source', 'prebuilt', 'NODE_RNN_ADDON'].includes(info.source));
  });
});
