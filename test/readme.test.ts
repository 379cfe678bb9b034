// The README's code runs as written. Every ts/js block of README.md must be marked `<!-- doctest -->` (or
// `<!-- doctest cuda -->`); the marked blocks are read from README.md when the tests run (so the README and this
// test cannot drift), written as ES modules that import 'node-rnn' (the built package: dist/lib, typed by its
// declarations), type-checked by the project's TypeScript with the project's strict options, and each run by node in
// a child process: a block that does not compile or throws fails. CUDA blocks are type-checked everywhere and run
// only where a GPU is present (elsewhere pending, saying why, like the other CUDA suites). Where TypeScript is not
// installed (the GPU machine), the blocks compiled by scripts/stage-device.sh run, if they are still the README's.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cuda } from '../lib/index';
import { whyUnavailable } from './helpers/cuda';
import { CodeBlock, SCRIPT_LANGS, codeBlocks } from './helpers/markdown-blocks';
import { Compiled, TSC, compileBlocks, emittedOf, readmeBlocks, reuseCompiled, runNode, where } from './helpers/readme-doctests';

/** A block's own limit: the examples are small, a hang must not take mocha's whole timeout. */
const RUN_TIMEOUT_MS = 30_000;

async function runBlock(compiled: Compiled, b: CodeBlock): Promise<void> {
  const js = path.join(compiled.dir, emittedOf(b));
  assert.ok(fs.existsSync(js), `tsc emitted no ${emittedOf(b)} for ${where(b)}`);
  const r = await runNode([js], compiled.dir, RUN_TIMEOUT_MS);
  if (r.code !== 0) {
    const how = r.signal ? `was killed (${r.signal}${r.signal === 'SIGTERM' ? `, over ${RUN_TIMEOUT_MS} ms?` : ''})` : `exited with ${r.code}`;
    assert.fail(`${where(b)} ${how}:\n${r.stderr || r.stdout}`);
  }
}

describe('readme: code blocks', () => {
  it('codeBlocks reads fences, sections and markers as GitHub renders them', () => {
    const md = [
      '# One', '<!-- doctest -->', '```ts', 'a();', '# not a heading', '```',
      '## Two', '````md', '```ts', 'inner', '```', '````',
      '<!-- doctest cuda -->', '~~~JS title', 'b();', '~~~', '```', 'no lang', '```',
    ].join('\n');
    assert.deepEqual(codeBlocks(md), [
      { lang: 'ts', code: 'a();\n# not a heading', line: 4, section: 'One', doctest: 'any' },
      { lang: 'md', code: '```ts\ninner\n```', line: 9, section: 'Two', doctest: null },
      { lang: 'js', code: 'b();', line: 15, section: 'Two', doctest: 'cuda' },
      { lang: '', code: 'no lang', line: 18, section: 'Two', doctest: null },
    ]);
    assert.throws(() => codeBlocks('<!-- doctest gpu -->\n```ts\nx\n```'), /^Error: line 1: unknown doctest marker <!-- doctest gpu -->/);
    assert.throws(() => codeBlocks('text\n```ts\nx'), /^Error: line 2: code block is never closed$/);
  });
});

describe('readme: README.md runs as written', function () {
  const blocks = readmeBlocks();
  const doctests = blocks.filter((b) => b.doctest !== null);
  let compiled: Compiled | null = null;

  before(async function () {
    this.timeout(180_000);
    if (fs.existsSync(TSC)) {
      compiled = await compileBlocks(doctests);
    } else {
      compiled = reuseCompiled(doctests);
      console.log(`    README blocks: no TypeScript compiler here; checking and running those compiled into ${compiled.dir}`);
    }
  });

  it('every ts/js block is a doctest, and only those', () => {
    assert.deepEqual(blocks.filter((b) => SCRIPT_LANGS.has(b.lang) !== (b.doctest !== null)).map(where), []);
    assert.ok(doctests.some((b) => b.doctest === 'any'), 'README.md has no block that runs on the CPU');
  });

  describe('type-checks (tsc, the project\'s strict options)', () => {
    for (const b of doctests) {
      it(where(b), () => {
        const c = compiled as Compiled;
        const errors = [...c.general, ...(c.perBlock.get(b) ?? [])];
        if (errors.length > 0) assert.fail(errors.join('\n'));
      });
    }
  });

  describe('runs (node, a child process per block)', () => {
    for (const b of doctests.filter((d) => d.doctest === 'any')) {
      it(where(b), async () => runBlock(compiled as Compiled, b));
    }
  });

  describe('runs on CUDA (node, a child process per block)', function () {
    before(function () {
      if (!cuda.isAvailable()) {
        console.log(`    README CUDA blocks type-checked, not run: ${whyUnavailable()}`);
        this.skip();
      }
    });
    for (const b of doctests.filter((d) => d.doctest === 'cuda')) {
      it(where(b), async () => runBlock(compiled as Compiled, b));
    }
  });
});
