// The text report: one aligned row per case (node-rnn's ms, GFLOP/s, % of the GEMM ceiling; per compared peer
// its ms and the ratio), then the reasons behind every "-" and the failures, each said once.

import type { PeerName } from './args';
import type { CaseResult } from './run';

/** A header row and data rows, aligned (first column left, the rest right), with a rule under the header. */
export function aligned(table: string[][]): string {
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]): string =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  return [line(table[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...table.slice(1).map(line)].join('\n');
}

const fixed = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const msText = (ms: number): string => fixed(ms, ms < 10 ? 3 : ms < 1000 ? 2 : 0);
const rateText = (v: number): string => fixed(v, v < 1 ? 3 : v < 10 ? 2 : 1);

export function resultsTable(results: readonly CaseResult[], peers: readonly PeerName[], showPrecision: boolean): string {
  const head = ['shape (T x B x I x H)', 'pass', ...(showPrecision ? ['precision', 'loop'] : []), 'ours ms', 'GFLOP/s', '% ceiling'];
  for (const p of peers) head.push(`${p} ms`, 'ratio');
  const rows = results.map((r) => {
    const row = [r.label, r.pass, ...(showPrecision ? [r.precision === 'high' ? 'tf32' : 'fp32', r.loop || '-'] : [])];
    if (r.ours.status === 'ok') row.push(msText(r.ours.ms), rateText(r.ours.gflops), r.ours.ceilingPct === null ? '-' : rateText(r.ours.ceilingPct));
    else row.push('FAILED', '-', '-');
    for (const p of peers) {
      const o = r.peers[p];
      if (o === undefined || o.status === 'skipped') row.push('-', '-');
      else if (o.status === 'failed') row.push('FAILED', '-');
      else row.push(msText(o.ms) + (o.check && !o.check.agrees ? ' !' : ''), fixed(o.ratio, 2));
    }
    return row;
  });
  return aligned([head, ...rows]);
}

/** Footnotes: the skip reasons per peer (each once), the failures, the checks that disagree. */
export function resultNotes(results: readonly CaseResult[], peers: readonly PeerName[]): string[] {
  const notes: string[] = [];
  for (const p of peers) {
    const reasons = new Map<string, number>();
    for (const r of results) {
      const o = r.peers[p];
      if (o?.status === 'skipped') reasons.set(o.reason, (reasons.get(o.reason) ?? 0) + 1);
    }
    for (const [reason, n] of reasons) notes.push(`${p} "-" (${n} row${n === 1 ? '' : 's'}): ${reason}`);
  }
  for (const r of results) {
    const what = `${r.label} ${r.pass}${r.device !== 'cpu' ? ` ${r.precision}` : ''}`;
    if (r.ours.status === 'failed') notes.push(`node-rnn FAILED on ${what}: ${r.ours.error}`);
    for (const p of peers) {
      const o = r.peers[p];
      if (o?.status === 'failed') notes.push(`${p} FAILED on ${what}: ${o.error}`);
      if (o?.status === 'ok' && o.check && !o.check.agrees) {
        notes.push(`! ${p} and node-rnn disagree on ${what}: ${o.check.what} rel err ${o.check.relErr.toExponential(2)}`);
      }
    }
  }
  return notes;
}
