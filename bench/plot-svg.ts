// --plot FILE.svg: a grouped bar chart written by hand (no dependency): one group per case, one bar per
// implementation that has a number for it, a y axis with round ticks, rotated case labels and a legend.

import type { PeerName, PlotMetric } from './args';
import type { CaseResult } from './run';
import { precisionLabel } from './cases';

export interface BarChart {
  title: string;
  subtitle?: string;
  yLabel: string;
  series: string[];
  /** per group, one value per series; null: no bar */
  groups: { label: string; values: (number | null)[] }[];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
const BAR = 16;
const GROUP_GAP = 22;
const LEFT = 120; // room for the first rotated label too
const RIGHT = 24;
const TOP = 76;
const PLOT_HEIGHT = 300;
const BOTTOM = 190; // room for the rotated labels

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** The smallest of 1, 2, 2.5, 5 x 10^k that is >= v (the axis maximum). */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v * (1 - 1e-12)) return m * p;
  return 10 * p;
}

const num = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/\.?0+$/, ''));
const tickText = (v: number): string => (v >= 1000 ? `${num(v / 1000)}k` : num(v));

export function renderBarChart(chart: BarChart): string {
  const nSeries = Math.max(1, chart.series.length);
  const groupWidth = nSeries * BAR + GROUP_GAP;
  const plotWidth = Math.max(360, chart.groups.length * groupWidth);
  const width = LEFT + plotWidth + RIGHT;
  const height = TOP + PLOT_HEIGHT + BOTTOM;
  const finite = chart.groups.flatMap((g) => g.values).filter((v): v is number => v !== null && Number.isFinite(v) && v >= 0);
  const yMax = niceCeil(Math.max(0, ...finite));
  const y = (v: number): number => TOP + PLOT_HEIGHT - (v / yMax) * PLOT_HEIGHT;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  );
  if (chart.subtitle) out.push(`<text x="${LEFT}" y="40" fill="#555555">${escapeXml(chart.subtitle)}</text>`);

  // y axis: 5 intervals, grid lines
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${LEFT}" y1="${yy}" x2="${LEFT + plotWidth}" y2="${yy}" stroke="#e0e0e0"/>`,
      `<text x="${LEFT - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${tickText(v)}</text>`,
    );
  }
  out.push(
    `<line x1="${LEFT}" y1="${TOP}" x2="${LEFT}" y2="${TOP + PLOT_HEIGHT}" stroke="#333333"/>`,
    `<line x1="${LEFT}" y1="${TOP + PLOT_HEIGHT}" x2="${LEFT + plotWidth}" y2="${TOP + PLOT_HEIGHT}" stroke="#333333"/>`,
    `<text x="18" y="${TOP + PLOT_HEIGHT / 2}" text-anchor="middle" transform="rotate(-90 18 ${TOP + PLOT_HEIGHT / 2})">${escapeXml(chart.yLabel)}</text>`,
  );

  chart.groups.forEach((g, gi) => {
    const x0 = LEFT + GROUP_GAP / 2 + gi * groupWidth;
    g.values.forEach((v, si) => {
      if (v === null || !Number.isFinite(v) || v < 0) return;
      const top = y(v);
      const series = chart.series[si] ?? `series ${si}`;
      out.push(
        `<rect class="bar" x="${(x0 + si * BAR).toFixed(1)}" y="${top.toFixed(1)}" width="${BAR - 2}" height="${(TOP + PLOT_HEIGHT - top).toFixed(1)}" ` +
          `fill="${COLORS[si % COLORS.length]}"><title>${escapeXml(`${g.label}: ${series} ${num(v)}`)}</title></rect>`,
      );
    });
    const lx = x0 + (nSeries * BAR) / 2;
    const ly = TOP + PLOT_HEIGHT + 12;
    out.push(`<text x="${lx.toFixed(1)}" y="${ly}" text-anchor="end" transform="rotate(-40 ${lx.toFixed(1)} ${ly})">${escapeXml(g.label)}</text>`);
  });

  // legend: one row under the title and subtitle, series side by side
  let lx = LEFT;
  chart.series.forEach((s, si) => {
    out.push(
      `<rect class="legend" x="${lx}" y="48" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/>`,
      `<text x="${lx + 14}" y="57">${escapeXml(s)}</text>`,
    );
    lx += 14 + 7 * s.length + 18; // about 7 px per character at 11 px
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The chart of a run: one group per case, bars for node-rnn and each peer with a time. */
export function resultsChart(results: readonly CaseResult[], peers: readonly PeerName[], metric: PlotMetric, subtitle: string): BarChart {
  const withTimes = peers.filter((p) => results.some((r) => r.peers[p]?.status === 'ok'));
  const value = (o: { status: string; ms?: number; gflops?: number } | undefined): number | null =>
    o?.status === 'ok' ? (metric === 'ms' ? o.ms! : o.gflops!) : null;
  return {
    title: `node-rnn bench: ${metric === 'ms' ? 'milliseconds per run (lower is better)' : 'GFLOP/s (higher is better)'}`,
    subtitle,
    yLabel: metric === 'ms' ? 'ms' : 'GFLOP/s',
    series: ['node-rnn', ...withTimes],
    groups: results.map((r) => ({
      label: `${r.label} ${r.pass}${r.device !== 'cpu' || r.precision !== 'float32' ? ` ${precisionLabel(r.precision)}` : ''}`,
      values: [value(r.ours as never), ...withTimes.map((p) => value(r.peers[p] as never))],
    })),
  };
}
