// The text report: one aligned row per case (node-rnn's ms, GFLOP/s, % of the GEMM ceiling; per compared peer
// its ms and the ratio), with a precision column when a row is not float32 (or on CUDA), and accuracy columns
// (each output against node-rnn float32's) when a row is at reduced precision; then the reasons behind every "-"
// and the failures, each said once.

import type { BenchDevice, PeerName } from './args';
import type { Accuracy } from './accuracy';
import { precisionLabel } from './cases';
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
/** e.g. 3.1e-2; "inf" for a NaN or length mismatch (accuracy() reports those as Infinity). */
export const errText = (v: number): string => (v === 0 ? '0' : Number.isFinite(v) ? v.toExponential(1) : 'inf');
const errCells = (a: Accuracy | null | undefined): string[] => (a ? [errText(a.maxAbsErr), errText(a.relErr)] : ['-', '-']);

/** What the table shows besides the fixed columns. */
export function tableLayout(results: readonly CaseResult[], peers: readonly PeerName[], device: BenchDevice) {
  const reduced = results.some((r) => r.precision !== 'float32');
  return {
    precision: device !== 'cpu' || reduced,
    loop: device !== 'cpu',
    /** accuracy columns for ours, and for the peers whose check compares the output */
    accuracy: reduced,
    accuracyPeers: peers.filter((p) => results.some((r) => { const o = r.peers[p]; return o?.status === 'ok' && o.check?.what === 'output'; })),
  };
}

export function resultsTable(results: readonly CaseResult[], peers: readonly PeerName[], device: BenchDevice): string {
  const show = tableLayout(results, peers, device);
  const errHead = show.accuracy ? ['max abs err', 'rel err'] : [];
  const head = ['shape (T x B x I x H)', 'pass', ...(show.precision ? ['precision'] : []), ...(show.loop ? ['loop'] : []), 'ours ms', 'GFLOP/s', '% ceiling', ...errHead];
  for (const p of peers) head.push(`${p} ms`, 'ratio', ...(show.accuracy && show.accuracyPeers.includes(p) ? errHead : []));
  const rows = results.map((r) => {
    const row = [r.label, r.pass, ...(show.precision ? [precisionLabel(r.precision)] : []), ...(show.loop ? [r.loop || '-'] : [])];
    const o = r.ours;
    if (o.status === 'ok') row.push(msText(o.ms), rateText(o.gflops), o.ceilingPct === null ? '-' : rateText(o.ceilingPct));
    else row.push(o.status === 'failed' ? 'FAILED' : '-', '-', '-');
    if (show.accuracy) row.push(...errCells(o.status === 'ok' ? o.accuracy : null));
    for (const p of peers) {
      const x = r.peers[p];
      if (x === undefined || x.status === 'skipped') row.push('-', '-');
      else if (x.status === 'failed') row.push('FAILED', '-');
      else row.push(msText(x.ms) + (x.check && !x.check.agrees ? ' !' : ''), fixed(x.ratio, 2));
      if (show.accuracy && show.accuracyPeers.includes(p)) row.push(...errCells(x?.status === 'ok' && x.check?.what === 'output' ? x.check : null));
    }
    return row;
  });
  return aligned([head, ...rows]);
}

/** Footnotes: the skip reasons of node-rnn and of each peer (each once), the failures, the checks that disagree. */
export function resultNotes(results: readonly CaseResult[], peers: readonly PeerName[]): string[] {
  const notes: string[] = [];
  const say = (who: string, reasons: (string | null)[]): void => {
    const counts = new Map<string, number>();
    for (const reason of reasons) if (reason !== null) counts.set(reason, (counts.get(reason) ?? 0) + 1);
    for (const [reason, n] of counts) notes.push(`${who} "-" (${n} row${n === 1 ? '' : 's'}): ${reason}`);
  };
  say('node-rnn', results.map((r) => (r.ours.status === 'skipped' ? r.ours.reason : null)));
  for (const p of peers) say(p, results.map((r) => { const o = r.peers[p]; return o?.status === 'skipped' ? o.reason : null; }));
  for (const r of results) {
    const what = `${r.label} ${r.pass}${r.device !== 'cpu' || r.precision !== 'float32' ? ` ${precisionLabel(r.precision)}` : ''}`;
    if (r.ours.status === 'failed') notes.push(`node-rnn FAILED on ${what}: ${r.ours.error}`);
    for (const p of peers) {
      const o = r.peers[p];
      if (o?.status === 'failed') notes.push(`${p} FAILED on ${what}: ${o.error}`);
      if (o?.status === 'ok' && o.check && !o.check.agrees) {
        notes.push(`! ${p} and node-rnn float32 disagree on ${what}: ${o.check.what} rel err ${o.check.relErr.toExponential(2)}`);
      }
    }
  }
  return notes;
}
