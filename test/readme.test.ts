// The README's code runs as written. Every ts/js block of README.md must be marked `<!-- doctest -->` (or
// `<!-- doctest cuda -->`); the marked blocks are read from README.md when the tests run (so the README and this
// test cannot drift), written as ES modules that import 'node-rnn' (the built package: dist/lib, typed by its
// declarations), type-checked by the project's TypeScript with the project's strict options, and each run by node in
// a child process: a block that does not compile or throws fails. CUDA blocks are type-checked everywhere and run
// only where a GPU is present (elsewhere pending, saying why, like the other CUDA suites).
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cuda } from '../lib/index';
import { whyUnavailable } from './helpers/cuda';
import { CodeBlock, SCRIPT_LANGS, codeBlocks } from './helpers/markdown-blocks';

const ROOT = path.resolve(__dirname, '..', '..');
const README = path.join(ROOT, 'README.md');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** A block's own limit: the examples are small, a hang must not take mocha's whole timeout. */
const RUN_TIMEOUT_MS = 30_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], cwd: string, timeout: number): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, timeout, encoding: 'utf8', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

const fileOf = (b: CodeBlock): string => `readme-line-${b.line}.${b.lang.startsWith('t') ? 'mts' : 'mjs'}`;
const emittedOf = (b: CodeBlock): string => fileOf(b).replace(/\.mts$/, '.mjs');
const where = (b: CodeBlock): string => `README.md:${b.line} (${b.section})`;

/** The blocks written into a fresh folder and compiled once; tsc's messages per block, in README.md's lines. */
interface Compiled {
  dir: string;
  /** tsc's messages that name no block (e.g. a bad configuration): they fail every block. */
  general: string[];
  perBlock: Map<CodeBlock, string[]>;
}

async function compile(blocks: readonly CodeBlock[]): Promise<Compiled> {
  if (!fs.existsSync(TSC)) throw new Error(`the TypeScript compiler is missing (${TSC}): run npm install`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-rnn-readme-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  // 'node-rnn' resolves, for tsc and for node alike, to this package: package.json's main and types (dist/lib)
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'node-rnn'), 'junction');
  for (const b of blocks) fs.writeFileSync(path.join(dir, fileOf(b)), `${b.code}\n`);
  const config = {
    extends: path.join(ROOT, 'tsconfig.json'), // the project's strictness and target
    compilerOptions: {
      rootDir: dir, outDir: path.join(dir, 'out'), declaration: false, sourceMap: false, pretty: false,
      allowJs: true, checkJs: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    },
    files: blocks.map(fileOf),
    include: [],
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  const tsc = await run([TSC, '-p', 'tsconfig.json'], dir, 120_000);
  const byFile = new Map(blocks.map((b) => [fileOf(b), b]));
  const perBlock = new Map<CodeBlock, string[]>(blocks.map((b) => [b, []]));
  const general: string[] = [];
  let last: string[] = general;
  for (const text of `${tsc.stdout}\n${tsc.stderr}`.split('\n')) {
    if (text.trim() === '') continue;
    const m = /^(readme-line-\d+\.m[tj]s)\((\d+),(\d+)\): (.*)$/.exec(text);
    const block = m ? byFile.get(m[1]) : undefined;
    if (m && block) {
      last = perBlock.get(block) as string[];
      last.push(`README.md:${block.line + Number(m[2]) - 1}:${m[3]}: ${m[4]}`);
    } else if (/^\s/.test(text) && last.length > 0) {
      last[last.length - 1] += `\n${text}`; // a message's continuation lines
    } else {
      (last = general).push(text);
    }
  }
  if (tsc.code !== 0 && general.length === 0 && [...perBlock.values()].every((e) => e.length === 0)) {
    general.push(`tsc exited with ${tsc.code ?? tsc.signal} and printed nothing`);
  }
  return { dir, general, perBlock };
}

async function runBlock(compiled: Compiled, b: CodeBlock): Promise<void> {
  const js = path.join(compiled.dir, 'out', emittedOf(b));
  assert.ok(fs.existsSync(js), `tsc emitted no ${emittedOf(b)} for ${where(b)}`);
  const r = await run([js], compiled.dir, RUN_TIMEOUT_MS);
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
  const blocks = codeBlocks(fs.readFileSync(README, 'utf8'));
  const doctests = blocks.filter((b) => b.doctest !== null);
  let compiled: Compiled | null = null;

  before(async function () {
    this.timeout(180_000);
    compiled = await compile(doctests);
  });

  after(() => {
    if (!compiled) return;
    fs.unlinkSync(path.join(compiled.dir, 'node_modules', 'node-rnn')); // the link only, never the package
    fs.rmSync(compiled.dir, { recursive: true, force: true });
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
