// The import graph of a TypeScript source tree, from its import / export-from / require statements, and the
// circles in it (test/architecture.test.ts). A line scanner rather than the compiler: the project's tsc has no JS
// API, and the statement forms lib/ uses are few and regular. Only relative specifiers that name a .ts file of the
// tree (`./x`, `./x.js`, `./dir` for `./dir/index.ts`) are edges; packages and node: modules are not.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ImportRef {
  specifier: string;
  /** `import type` / `export type`, or braces whose every name is marked `type`: erased at compile time. */
  typeOnly: boolean;
}

// `import|export [type] <clause> from '<spec>'`: the clause may hold only names, `as`, braces, commas and `*`, so
// `export const x = ...` and the like never match.
const FROM = /^[ \t]*(?:import|export)(\s+type)?\b([\w$\s{},*]*?)\s*from\s*(['"])([^'"\n]+)\3/gm;
// `import '<spec>'` (a side effect only)
const BARE = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm;
// `require('<spec>')` and `import('<spec>')` calls, on lines that are not comments
const CALL = /\b(?:require|import)\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

function typeOnlyClause(clause: string): boolean {
  const braces = clause.match(/\{([^}]*)\}/);
  if (!braces) return false;
  if (clause.replace(braces[0], '').trim() !== '') return false; // a default or namespace import besides the braces
  const names = braces[1].split(',').map((s) => s.trim()).filter((s) => s !== '');
  return names.length > 0 && names.every((s) => /^type\s/.test(s));
}

/** Every module reference of a source file's text, in order of appearance per form. */
export function scanImports(source: string): ImportRef[] {
  const refs: ImportRef[] = [];
  for (const m of source.matchAll(FROM)) refs.push({ specifier: m[4], typeOnly: m[1] !== undefined || typeOnlyClause(m[2]) });
  for (const m of source.matchAll(BARE)) refs.push({ specifier: m[2], typeOnly: false });
  source.split('\n').forEach((line) => {
    if (/^\s*(\/\/|\/?\*)/.test(line)) return;
    for (const m of line.matchAll(CALL)) refs.push({ specifier: m[2], typeOnly: false });
  });
  return refs;
}

export interface Edge {
  to: string;
  typeOnly: boolean;
}

/** Every .ts file under `dir` (declaration files excluded), as absolute paths. */
export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

function resolve(from: string, specifier: string, files: ReadonlySet<string>): string | null {
  if (!specifier.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), specifier.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) if (files.has(candidate)) return candidate;
  return null;
}

/** file -> the files of the tree it imports (an edge is type-only when every reference to that file is). */
export function importGraph(dir: string): Map<string, Edge[]> {
  const files = sourceFiles(dir);
  const known = new Set(files);
  const graph = new Map<string, Edge[]>();
  for (const file of files) {
    const edges = new Map<string, boolean>();
    for (const ref of scanImports(fs.readFileSync(file, 'utf8'))) {
      const to = resolve(file, ref.specifier, known);
      if (to !== null) edges.set(to, (edges.get(to) ?? true) && ref.typeOnly);
    }
    graph.set(file, [...edges].map(([to, typeOnly]) => ({ to, typeOnly })));
  }
  return graph;
}

/**
 * The circles of `graph`: for each strongly connected component (Tarjan) of more than one file, or a file that
 * imports itself, one shortest circle through its first file, as the list of files with the first repeated last.
 */
export function findCycles(graph: ReadonlyMap<string, readonly Edge[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(v, Math.min(low.get(v)!, index.get(to)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfImport = (graph.get(v) ?? []).some((e) => e.to === v);
      if (component.length > 1 || selfImport) components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((component) => shortestCircle(graph, component[0], new Set(component)));
}

/** A shortest path from `start` back to itself inside `within` (breadth first). */
function shortestCircle(graph: ReadonlyMap<string, readonly Edge[]>, start: string, within: ReadonlySet<string>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i];
    for (const { to } of graph.get(v) ?? []) {
      if (!within.has(to)) continue;
      if (to === start) {
        const circle = [start];
        for (let w = v; w !== start; w = previous.get(w)!) circle.splice(1, 0, w);
        return [...circle, start];
      }
      if (!previous.has(to)) {
        previous.set(to, v);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

/** A circle as text, `a.ts -> (type only) b.ts -> a.ts` (the edge into b.ts is type-only), paths relative to `root`. */
export function describeCycle(graph: ReadonlyMap<string, readonly Edge[]>, circle: readonly string[], root: string): string {
  return circle
    .map((file, i) => {
      const name = path.relative(root, file).split(path.sep).join('/');
      if (i === 0) return name;
      const edge = graph.get(circle[i - 1])!.find((e) => e.to === file)!;
      return `${edge.typeOnly ? '(type only) ' : ''}${name}`;
    })
    .join(' -> ');
}
