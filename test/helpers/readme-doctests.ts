// The README's doctest blocks (test/readme.test.ts) compiled: written as ES modules that import 'node-rnn' into
// dist/readme-doctests/, type-checked and emitted there by the project's tsc with the project's options. The folder is
// kept: the GPU machine has no TypeScript compiler (scripts/stage-device.sh leaves it out of the 64 MiB it carries,
// and compiles the blocks into this folder instead), so there the test runs what was compiled here, after checking
// that each block's source is still the README's.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CodeBlock, codeBlocks } from './markdown-blocks';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const README = path.join(ROOT, 'README.md');
export const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
export const DOCTEST_DIR = path.join(ROOT, 'dist', 'readme-doctests');
const TSC_RECORD = 'tsc.json';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs node with `args` in a child process; resolves with how it ended (never rejects). */
export function runNode(args: string[], cwd: string, timeout: number): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, timeout, encoding: 'utf8', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

/** Every block of README.md (the doctests among them carry a marker). */
export function readmeBlocks(): CodeBlock[] {
  return codeBlocks(fs.readFileSync(README, 'utf8'));
}

export const sourceOf = (b: CodeBlock): string => `readme-line-${b.line}.${b.lang.startsWith('t') ? 'mts' : 'mjs'}`;
export const emittedOf = (b: CodeBlock): string => path.join('out', sourceOf(b).replace(/\.mts$/, '.mjs'));
export const where = (b: CodeBlock): string => `README.md:${b.line} (${b.section})`;

export interface Compiled {
  dir: string;
  /** tsc's messages that name no block (e.g. a bad configuration): they fail every block. */
  general: string[];
  /** tsc's messages per block, located in README.md's lines. */
  perBlock: Map<CodeBlock, string[]>;
}

/**
 * 'node-rnn' for tsc and node alike: a stub package that re-exports this one's build (dist/lib) by a relative
 * path, so the folder still works when carried to another machine (a symlink to the root would not travel).
 */
function writeStubPackage(dir: string): void {
  const stub = path.join(dir, 'node_modules', 'node-rnn');
  fs.mkdirSync(stub, { recursive: true });
  const lib = path.relative(stub, path.join(ROOT, 'dist', 'lib', 'index.js')).split(path.sep).join('/');
  fs.writeFileSync(path.join(stub, 'package.json'), JSON.stringify({ name: 'node-rnn', main: 'index.js', types: 'index.d.ts' }));
  fs.writeFileSync(path.join(stub, 'index.js'), `module.exports = require('${lib}');\n`);
  fs.writeFileSync(path.join(stub, 'index.d.ts'), `export * from '${lib}';\n`);
}

/** Writes `blocks` into `dir` (emptied first) and compiles them with the project's tsc and tsconfig options. */
export async function compileBlocks(blocks: readonly CodeBlock[], dir = DOCTEST_DIR): Promise<Compiled> {
  if (!fs.existsSync(TSC)) throw new Error(`the TypeScript compiler is missing (${TSC}): run npm install`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  writeStubPackage(dir);
  for (const b of blocks) fs.writeFileSync(path.join(dir, sourceOf(b)), `${b.code}\n`);
  const config = {
    extends: path.join(ROOT, 'tsconfig.json'), // the project's strictness and target
    compilerOptions: {
      rootDir: dir, outDir: path.join(dir, 'out'), declaration: false, sourceMap: false, pretty: false,
      allowJs: true, checkJs: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    },
    files: blocks.map(sourceOf),
    include: [],
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  const tsc = await runNode([TSC, '-p', 'tsconfig.json'], dir, 120_000);
  const record = { code: tsc.code, signal: tsc.signal, output: `${tsc.stdout}\n${tsc.stderr}` };
  fs.writeFileSync(path.join(dir, TSC_RECORD), JSON.stringify(record));
  return { dir, ...messages(record, blocks) };
}

/**
 * What `compileBlocks` left in `dir` for `blocks`, for a machine without tsc; throws when a block's source there is
 * not the README's (README.md changed since).
 */
export function reuseCompiled(blocks: readonly CodeBlock[], dir = DOCTEST_DIR): Compiled {
  const again = 'compile them again on a machine with TypeScript (scripts/stage-device.sh does)';
  const recordFile = path.join(dir, TSC_RECORD);
  if (!fs.existsSync(recordFile)) throw new Error(`no TypeScript compiler here (${TSC}) and no compiled README blocks in ${dir}: ${again}`);
  for (const b of blocks) {
    const file = path.join(dir, sourceOf(b));
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== `${b.code}\n`) {
      throw new Error(`${where(b)} is not the block compiled in ${dir} (no TypeScript compiler here): ${again}`);
    }
  }
  writeStubPackage(dir); // the relative path to dist/lib, as seen from here
  return { dir, ...messages(JSON.parse(fs.readFileSync(recordFile, 'utf8')), blocks) };
}

/** tsc's output split per block (`readme-line-N.mts(row,col): ...` becomes `README.md:line:col: ...`). */
function messages(tsc: { code: number | null; signal: string | null; output: string }, blocks: readonly CodeBlock[]): Omit<Compiled, 'dir'> {
  const byFile = new Map(blocks.map((b) => [sourceOf(b), b]));
  const perBlock = new Map<CodeBlock, string[]>(blocks.map((b) => [b, []]));
  const general: string[] = [];
  let last: string[] = general;
  for (const text of tsc.output.split('\n')) {
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
  return { general, perBlock };
}

/** For scripts/stage-device.sh: compiles README.md's doctests into DOCTEST_DIR. */
export async function compileReadme(): Promise<void> {
  const blocks = readmeBlocks().filter((b) => b.doctest !== null);
  const compiled = await compileBlocks(blocks);
  const errors = compiled.general.length + [...compiled.perBlock.values()].reduce((n, e) => n + e.length, 0);
  console.log(`README doctests: ${blocks.length} blocks compiled into ${path.relative(ROOT, compiled.dir)} (${errors} tsc messages)`);
}
