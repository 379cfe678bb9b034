// The shape of lib/ that keeps it changeable: no import circles (Tensor at the bottom: lib/tensor.ts imports nothing
// of autograd; autograd attaches its methods from lib/autograd/tensor-methods.ts), and no file over 450 lines.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeCycle, findCycles, importGraph, scanImports } from './helpers/import-graph';

const ROOT = path.resolve(__dirname, '..', '..');
const LIB = path.join(ROOT, 'lib');
const MAX_LINES = 450;
/** Files allowed over MAX_LINES for now, each with the reason; remove an entry once its file is split. */
const LONG_FILE_EXEMPTIONS: Record<string, string> = {};

const lib = (file: string) => path.join(LIB, file);

describe('architecture of lib/', () => {
  describe('the import scanner', () => {
    it('finds every statement form, and tells type-only references from value ones', () => {
      const source = [
        "import { a } from './a';",
        "import type { B } from './b';",
        "import { type C, type D } from './c';",
        "import { type E, e } from './e';",
        'import {',
        '  f,',
        '  type F,',
        "} from './f';",
        "import * as g from './g';",
        "import h, { type H } from './h';",
        "export { i } from './i';",
        "export type { J } from './j';",
        "export * as k from './k';",
        "export * from './l';",
        "import './m';",
        "const n = require('./n');",
        "type O = typeof import('./o');",
        "// import { p } from './p';",
        "// const q = require('./q');",
        " * require('./r') in a doc comment",
        "export const s = 'not from a module';",
        "import typeT from './t';",
      ].join('\n');
      const refs = scanImports(source).sort((x, y) => x.specifier.localeCompare(y.specifier));
      assert.deepEqual(refs, [
        { specifier: './a', typeOnly: false },
        { specifier: './b', typeOnly: true },
        { specifier: './c', typeOnly: true },
        { specifier: './e', typeOnly: false },
        { specifier: './f', typeOnly: false },
        { specifier: './g', typeOnly: false },
        { specifier: './h', typeOnly: false },
        { specifier: './i', typeOnly: false },
        { specifier: './j', typeOnly: true },
        { specifier: './k', typeOnly: false },
        { specifier: './l', typeOnly: false },
        { specifier: './m', typeOnly: false },
        { specifier: './n', typeOnly: false },
        { specifier: './o', typeOnly: false },
        { specifier: './t', typeOnly: false },
      ]);
    });

    it('reports a circle through directories and index files, type-only edges marked', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-rnn-import-graph-'));
      try {
        fs.mkdirSync(path.join(dir, 'ops'));
        fs.writeFileSync(path.join(dir, 'tensor.ts'), "import { add } from './ops';\nexport class Tensor {}\n");
        fs.writeFileSync(path.join(dir, 'ops', 'index.ts'), "export { add } from './add';\n");
        fs.writeFileSync(path.join(dir, 'ops', 'add.ts'), "import type { Tensor } from '../tensor.js';\nexport const add = 1;\n");
        fs.writeFileSync(path.join(dir, 'leaf.ts'), "import { Tensor } from './tensor';\n");
        const graph = importGraph(dir);
        const cycles = findCycles(graph);
        assert.equal(cycles.length, 1);
        assert.equal(describeCycle(graph, cycles[0], dir), 'ops/add.ts -> (type only) tensor.ts -> ops/index.ts -> ops/add.ts');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('sees the imports of lib/ (the scan is not vacuous)', () => {
    const graph = importGraph(LIB);
    const targets = (file: string) => (graph.get(lib(file)) ?? []).map((e) => path.relative(LIB, e.to));
    assert.ok(graph.size > 40, `expected the files of lib/, found ${graph.size}`);
    assert.ok(targets('index.ts').includes('tensor.ts') && targets('index.ts').includes(path.join('autograd', 'ops', 'index.ts')));
    assert.ok(targets(path.join('autograd', 'tensor-methods.ts')).includes('tensor.ts'));
  });

  it('has no import circle, type-only imports included', () => {
    const graph = importGraph(LIB);
    const circles = findCycles(graph).map((c) => describeCycle(graph, c, ROOT));
    assert.deepEqual(circles, [], `import circles in lib/ (break each by moving code down, never by a lazy require):\n  ${circles.join('\n  ')}`);
  });

  it('keeps lib/tensor.ts free of autograd (Tensor is the bottom of lib/)', () => {
    const graph = importGraph(LIB);
    const autograd = (graph.get(lib('tensor.ts')) ?? []).filter((e) => e.to.startsWith(path.join(LIB, 'autograd') + path.sep));
    assert.deepEqual(autograd.map((e) => path.relative(ROOT, e.to)), []);
  });

  it(`has no file over ${MAX_LINES} lines, but for the listed exemptions`, () => {
    const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').length - 1;
    const long = [...importGraph(LIB).keys()]
      .map((file) => ({ name: path.relative(ROOT, file).split(path.sep).join('/'), count: lines(file) }))
      .filter(({ name, count }) => count > MAX_LINES && !(name in LONG_FILE_EXEMPTIONS));
    assert.deepEqual(long, [], `files of lib/ over ${MAX_LINES} lines: split them by what they hold`);
    for (const [name, reason] of Object.entries(LONG_FILE_EXEMPTIONS)) {
      const file = path.join(ROOT, name);
      assert.ok(fs.existsSync(file) && lines(file) > MAX_LINES, `${name} is exempt (${reason}) but no longer needs to be: remove the exemption`);
    }
  });
});
