// The fenced code blocks of a Markdown file and their doctest markers, for test/readme.test.ts. A block is a
// doctest when the line right before its opening fence is `<!-- doctest -->` (runs anywhere) or
// `<!-- doctest cuda -->` (needs a GPU to run); HTML comments are invisible on GitHub and npm.

export interface CodeBlock {
  /** The info string's first word, lower-cased ('ts', 'js', 'sh', ... or '' for none). */
  lang: string;
  /** The block's text, without the fences. */
  code: string;
  /** 1-based line of the block's first code line in the Markdown file. */
  line: number;
  /** The nearest heading above the block ('' before the first one). */
  section: string;
  /** null: no marker; 'any': `<!-- doctest -->`; 'cuda': `<!-- doctest cuda -->`. */
  doctest: 'any' | 'cuda' | null;
}

const MARKERS = new Map<string, 'any' | 'cuda'>([['<!-- doctest -->', 'any'], ['<!-- doctest cuda -->', 'cuda']]);

/** TypeScript and JavaScript info strings: the blocks that must be doctests. */
export const SCRIPT_LANGS: ReadonlySet<string> = new Set(['ts', 'typescript', 'js', 'javascript']);

/**
 * Every fenced block of `markdown` (``` or ~~~ fences, CommonMark's closing rule: the same character, at least as
 * many, nothing but spaces after). Throws on a marker it does not know (a typo must not silently drop a doctest)
 * and on a block left open.
 */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: CodeBlock[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) {
      const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(lines[i]);
      if (heading) section = heading[1];
      continue;
    }
    const fence = open[1];
    const closing = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !closing.test(lines[end])) end++;
    if (end === lines.length) throw new Error(`line ${i + 1}: code block is never closed`);
    const before = i > 0 ? lines[i - 1].trim() : '';
    if (/^<!--\s*doctest/i.test(before) && !MARKERS.has(before)) {
      throw new Error(`line ${i}: unknown doctest marker ${before} (use ${[...MARKERS.keys()].join(' or ')})`);
    }
    blocks.push({
      lang: open[2].toLowerCase(),
      code: lines.slice(i + 1, end).join('\n'),
      line: i + 2,
      section,
      doctest: MARKERS.get(before) ?? null,
    });
    i = end;
  }
  return blocks;
}
