// A missing or broken native build must explain how to rebuild, not show a bare dlopen trace.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadNative } from '../lib/binding';

describe('native loader', () => {
  it('explains how to rebuild when no build exists', () => {
    assert.throws(() => loadNative([path.join(os.tmpdir(), 'no-such-dir', 'node_rnn.node')]), (e: Error) => {
      assert.match(e.message, /no native build was found/);
      assert.match(e.message, /apt-get install -y cmake libopenblas-dev/);
      assert.match(e.message, /npm run build:native/);
      return true;
    });
  });

  it('names the broken file and how to rebuild when a build cannot be loaded', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-rnn-'));
    const broken = path.join(dir, 'node_rnn.node');
    fs.writeFileSync(broken, 'not a shared library');
    try {
      assert.throws(() => loadNative([broken]), (e: Error) => {
        assert.match(e.message, /the build could not be loaded/);
        assert.ok(e.message.includes(broken), e.message);
        assert.match(e.message, /npm run build:native/);
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads the real build', () => {
    const native = loadNative();
    assert.equal(typeof native.rnnForward, 'function');
    assert.equal(typeof native.rnnForwardAsync, 'function');
  });
});
