// The bench CLI (bench/cli.ts, `node-rnn bench`): flag parsing and its error messages, the SVG chart writer, and a
// tiny real CPU run through bin/node-rnn.js whose JSON must agree with bench/flops.ts. No timing is asserted.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, UsageError } from '../bench/args';
import { forwardFlops } from '../bench/flops';
import { gpuShapesFile } from '../bench/presets';
import { escapeXml, niceCeil, renderBarChart, resultsChart } from '../bench/plot-svg';
import type { CaseResult } from '../bench/run';
import { loadOnnxRuntime } from '../bench/onnx-rnn-model';
import { INT8_TOLERANCE } from '../bench/peer-onnx';
import { NO_QUANTIZE_DYNAMIC } from '../bench/ours';
import { resultNotes, resultsTable } from '../bench/table';
import { MAX_WARMUP_RUNS, SETTLE_MS, timeSides, type Side } from '../bench/timing';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'node-rnn.js');

function usageError(argv: string[], pattern: RegExp): void {
  assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof UsageError && pattern.test(e.message));
}

/** Tags of an XML document, checked for nesting; returns the element names in document order. */
function parseXml(text: string): { names: string[]; attrs: Record<string, string>[] } {
  const names: string[] = [];
  const attrs: Record<string, string>[] = [];
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(text)) !== null) {
    const between = text.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `stray markup before offset ${m.index}: ${JSON.stringify(between.slice(0, 60))}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(between), `unescaped & in ${JSON.stringify(between)}`);
    last = tag.lastIndex;
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
      continue;
    }
    names.push(name);
    attrs.push(Object.fromEntries([...attrText.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])));
    if (!selfClosing) stack.push(name);
  }
  assert.ok(!/[<>]/.test(text.slice(last)), 'stray markup at the end');
  assert.deepEqual(stack, [], 'unclosed elements');
  return { names, attrs };
}

describe('bench CLI: arguments', () => {
  it('rejects an unknown flag, naming it', () => {
    usageError(['--frob'], /unknown flag "--frob"/);
    usageError(['--shapes', '5x2x4x8', 'extra'], /unexpected argument "extra"/);
  });

  it('rejects shape text that is not T x B x I x H, quoting it', () => {
    usageError(['--shapes', '100x64x256'], /"100x64x256" is neither a shape \(T x B x I x H/);
    usageError(['--shapes', '100x0x4x4'], /"100x0x4x4" is neither a shape/);
    usageError(['--shapes', '5x2x4x8,abc'], /"abc" is neither a shape .* nor a preset \(cpu-default, torch-h100/);
    usageError(['--shapes'], /--shapes needs a value/);
  });

  it('rejects bad values of the other flags with what they expect', () => {
    usageError(['--repeats', '0'], /--repeats expects an integer >= 1, got "0"/);
    usageError(['--threads', '1.5'], /--threads expects an integer >= 1, got "1.5"/);
    usageError(['--mode', 'lstm,tcn'], /--mode expects one of lstm, gru, rnn_tanh, rnn_relu, got "tcn"/);
    usageError(['--pass', 'inference'], /--pass expects one of forward, backward, train/);
    usageError(['--compare', 'onnxruntime,caffe'], /--compare expects one of onnxruntime, tfjs, torch, got "caffe"/);
    usageError(['--device', 'gpu'], /--device expects cpu, cuda or cuda:N, got "gpu"/);
    usageError(['--precision', 'int4'], /--precision expects one of float32, tf32, bfloat16, float16, int8, prepacked, prepacked-bf16, got "int4"/);
    usageError(['--dtype', 'double'], /--dtype expects one of float32, tf32, bfloat16, float16, int8, prepacked, prepacked-bf16, got "double"/);
    usageError(['--shapes', '5x2x4x8', '--mode', 'gru', '--proj', '4'], /--proj applies to LSTM only/);
    usageError(['--shapes', '5x2x4x8', '--proj', '8'], /--proj 8 must be smaller than the hidden size \(H = 8\)/);
    usageError(['--json=yes'], /--json takes no value/);
  });

  it('crosses shapes, modes, passes and the layer flags into cases', () => {
    const o = parseArgs(['--shapes', '100x64x256x512,10x1x8x8', '--mode', 'lstm,gru', '--pass', 'forward,train', '--layers', '2', '--bidirectional']);
    assert.equal(o.cases.length, 8);
    assert.deepEqual(o.cases[0], { mode: 'LSTM', shape: { T: 100, B: 64, I: 256, H: 512, L: 2, D: 2, P: 0 }, pass: 'forward', precision: 'float32' });
    assert.deepEqual(new Set(o.cases.map((c) => `${c.mode} ${c.pass} ${c.shape.T}`)).size, 8);
    assert.deepEqual(o.compare, ['onnxruntime', 'tfjs']);
    assert.equal(o.device, 'cpu');
    assert.deepEqual(parseArgs(['--compare', 'none']).compare, []);
    assert.equal(parseArgs(['--shapes=5x2x4x8', '--proj=3']).cases[0].shape.P, 3);
  });

  it('expands the presets: cpu-default by default, torch-h100 from bench/gpu-shapes.json on CUDA', () => {
    const cpu = parseArgs([]);
    assert.equal(cpu.shapes, 'cpu-default');
    assert.deepEqual(cpu.cases.map((c) => c.pass).filter((p) => p === 'train').length, 2);
    assert.ok(cpu.cases.every((c) => c.precision === 'float32'));

    const file = JSON.parse(fs.readFileSync(gpuShapesFile(), 'utf8')) as { tf32Modes: string[]; shapes: { mode: string }[]; trainShapes: { mode: string }[] };
    const all = [...file.shapes, ...file.trainShapes];
    const gpu = parseArgs(['--device', 'cuda']);
    assert.equal(gpu.shapes, 'torch-h100');
    assert.deepEqual(gpu.compare, ['torch']);
    assert.equal(gpu.cases.length, all.length + all.filter((s) => file.tf32Modes.includes(s.mode)).length);
    assert.equal(gpu.cases.filter((c) => c.pass === 'train').length, file.trainShapes.length + file.trainShapes.filter((s) => file.tf32Modes.includes(s.mode)).length);
    assert.equal(gpu.cases.filter((c) => c.precision === 'tf32').length, all.filter((s) => file.tf32Modes.includes(s.mode)).length);
    const gru = parseArgs(['--device', 'cuda:0', '--mode', 'gru', '--pass', 'forward', '--precision', 'high']);
    assert.ok(gru.cases.length > 0 && gru.cases.every((c) => c.mode === 'GRU' && c.pass === 'forward' && c.precision === 'tf32'));
    usageError(['--shapes', 'cpu-default', '--mode', 'rnn_relu'], /selects no case of the preset cpu-default/);
  });
});

describe('bench CLI: --precision', () => {
  const precisions = (argv: string[]): string[] => parseArgs(argv).cases.map((c) => c.precision);

  it('takes float32, bfloat16 and int8 on the CPU, float32, tf32, bfloat16 and float16 on CUDA, with aliases', () => {
    assert.deepEqual(precisions(['--shapes', '5x2x4x8', '--precision', 'float32,bfloat16,int8']), ['float32', 'bfloat16', 'int8']);
    assert.deepEqual(precisions(['--shapes', '5x2x4x8', '--dtype', 'FP32,bf16']), ['float32', 'bfloat16']);
    assert.deepEqual(precisions(['--shapes', '5x2x4x8', '--precision', 'highest']), ['float32']);
    assert.deepEqual(precisions(['--device', 'cuda', '--shapes', '5x2x4x8', '--precision', 'highest,high,bf16,fp16']), ['float32', 'tf32', 'bfloat16', 'float16']);
    assert.deepEqual(precisions(['--shapes', '5x2x4x8']), ['float32']);
  });

  it('refuses what a device does not run, saying what it does', () => {
    usageError(['--precision', 'high'], /--precision tf32 \(TF32 matmuls\) applies to CUDA only \(use --device cuda\); on the CPU: float32, bfloat16, int8/);
    usageError(['--precision', 'float32,float16'], /--precision float16 runs on CUDA only .*; on the CPU: float32, bfloat16, int8/);
    usageError(['--device', 'cuda', '--precision', 'int8'], /--precision int8 runs on the CPU only .*; on CUDA: float32, tf32, bfloat16, float16/);
    usageError(['--precision', 'int8', '--dtype', 'int8'], /--dtype is another name for --precision: give one of them/);
  });

  it('times bfloat16 and int8 forward only: leaves out their training rows with a note, refuses nothing else left', () => {
    const o = parseArgs(['--shapes', '5x2x4x8', '--pass', 'forward,train', '--precision', 'float32,bfloat16,int8']);
    assert.deepEqual(o.cases.map((c) => `${c.pass} ${c.precision}`), ['forward float32', 'forward bfloat16', 'forward int8', 'train float32']);
    assert.deepEqual(o.notes, ['2 backward/training case(s) in bfloat16, int8 left out: those precisions time forward passes only']);
    const preset = parseArgs(['--precision', 'float32,int8']);
    assert.equal(preset.cases.length, 10 + 8); // cpu-default: 8 forward and 2 training shapes
    assert.equal(preset.notes.length, 1);
    assert.deepEqual(parseArgs(['--shapes', '5x2x4x8']).notes, []);
    usageError(['--shapes', '5x2x4x8', '--pass', 'train', '--precision', 'int8'], /--precision int8 times forward passes only .*: add forward to --pass/);
  });

  it('adds precision and accuracy columns to the table, and says why a row has no time', () => {
    const base = { mode: 'LSTM' as const, shape: { T: 5, B: 2, I: 4, H: 8, L: 1, D: 1 as const, P: 0 }, device: 'cpu' as const, gflop: 1, loop: '', label: 'LSTM 5x2x4x8', pass: 'forward' as const };
    const ok = { status: 'ok' as const, gflops: 500, timesMs: [2], ceilingPct: null };
    const results: CaseResult[] = [
      { ...base, precision: 'float32', ours: { ...ok, ms: 2, ceilingPct: 5, accuracy: null },
        peers: { onnxruntime: { status: 'ok', ms: 4, gflops: 250, timesMs: [4], ratio: 2, check: { what: 'output', relErr: 1.2e-7, maxAbsErr: 3e-8, agrees: true } } } },
      { ...base, precision: 'bfloat16', ours: { ...ok, ms: 1.5, accuracy: { maxAbsErr: 0.0123, relErr: 0.00456 } },
        peers: { onnxruntime: { status: 'skipped', reason: 'no bf16' } } },
      { ...base, precision: 'int8', ours: { status: 'skipped', reason: 'no quantizeDynamic' },
        peers: { onnxruntime: { status: 'ok', ms: 1, gflops: 1000, timesMs: [1], ratio: NaN, check: { what: 'output', relErr: 0.0101, maxAbsErr: 0.02, agrees: true } } } },
    ];
    const lines = resultsTable(results, ['onnxruntime'], 'cpu').split('\n');
    const cells = (line: string): string[] => line.trim().split(/\s{2,}/);
    assert.deepEqual(cells(lines[0]), ['shape (T x B x I x H)', 'pass', 'precision', 'ours ms', 'GFLOP/s', '% ceiling', 'max abs err', 'rel err', 'onnxruntime ms', 'ratio', 'max abs err', 'rel err']);
    assert.deepEqual(cells(lines[2]), ['LSTM 5x2x4x8', 'forward', 'fp32', '2.000', '500.0', '5.00', '-', '-', '4.000', '2.00', '3.0e-8', '1.2e-7']);
    assert.deepEqual(cells(lines[3]), ['LSTM 5x2x4x8', 'forward', 'bf16', '1.500', '500.0', '-', '1.2e-2', '4.6e-3', '-', '-', '-', '-']);
    assert.deepEqual(cells(lines[4]), ['LSTM 5x2x4x8', 'forward', 'int8', '-', '-', '-', '-', '-', '1.000', '-', '2.0e-2', '1.0e-2']);
    assert.deepEqual(resultNotes(results, ['onnxruntime']), ['node-rnn "-" (1 row): no quantizeDynamic', 'onnxruntime "-" (1 row): no bf16']);
    // float32 only: the table keeps its old columns
    assert.deepEqual(cells(resultsTable(results.slice(0, 1), ['onnxruntime'], 'cpu').split('\n')[0]), ['shape (T x B x I x H)', 'pass', 'ours ms', 'GFLOP/s', '% ceiling', 'onnxruntime ms', 'ratio']);
  });
});

describe('bench CLI: timing blocks', function () {
  this.timeout(20000);
  /** Sides that log their runs and their done calls. */
  function sides(log: string[]): Side[] {
    return ['ours', 'peer'].map((name) => ({
      runner: { run: () => void log.push(name) }, warmup: 1, warmupMs: 0, repeats: 2, times: [],
      done: async () => void log.push(`${name} done`),
    }));
  }

  it('runs each side\'s block (the peer first on odd rows) and calls its done right after it; --interleave never does', async () => {
    const log: string[] = [];
    const [ours, peer] = sides(log);
    await timeSides([ours, peer], false, false);
    assert.deepEqual(log, ['ours', 'ours', 'ours', 'ours done', 'peer', 'peer', 'peer', 'peer done']);
    assert.equal(ours.times.length, 2);
    log.length = 0;
    await timeSides(sides(log), false, true);
    assert.deepEqual(log, ['peer', 'peer', 'peer', 'peer done', 'ours', 'ours', 'ours', 'ours done']);
    log.length = 0;
    await timeSides(sides(log), true, false);
    assert.ok(!log.some((l) => l.endsWith('done')) && log.length === 6, log.join());
  });

  it('warms a block up for at least warmupMs (short runs: up to MAX_WARMUP_RUNS), then times its repeats', async () => {
    const busy = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end) { /* a run of `ms` */ }
    };
    let runs = 0;
    const starts: number[] = [], ends: number[] = [];
    const run = (): void => {
      starts.push(performance.now());
      runs++;
      busy(2);
      ends.push(performance.now());
    };
    const slow: Side = { runner: { run }, warmup: 1, warmupMs: 20, repeats: 3, times: [] };
    const start = performance.now();
    await timeSides([slow], false, false);
    // after the settling pause: untimed runs until >= 20 ms have passed (about 10 runs of 2 ms on an idle machine;
    // fewer when the process is descheduled, so the time is what is checked, less the loop's own few us), then
    // the 3 timed ones
    const warm = runs - 3;
    assert.ok(warm >= 1 && warm <= 20, `${warm} warm-up runs`);
    assert.ok(ends[warm - 1] - starts[0] >= 19, `warm-up lasted ${ends[warm - 1] - starts[0]} ms`);
    assert.equal(slow.times.length, 3);
    assert.ok(slow.times.every((ms) => ms >= 2), slow.times.join());
    assert.ok(performance.now() - start >= SETTLE_MS + 20);
    let quick = 0;
    const instant: Side = { runner: { run: () => void quick++ }, warmup: 2, warmupMs: 60_000, repeats: 1, times: [] };
    await timeSides([instant], false, false);
    assert.equal(quick, MAX_WARMUP_RUNS + 1);
    // warmup 0 means none, whatever warmupMs says
    let none = 0;
    await timeSides([{ runner: { run: () => void none++ }, warmup: 0, warmupMs: 1000, repeats: 2, times: [] }], false, false);
    assert.equal(none, 2);
  });
});

describe('bench CLI: SVG chart', () => {
  it('draws one bar per value, escapes labels, and is well-formed', () => {
    const svg = renderBarChart({
      title: 'a <title> & more',
      yLabel: 'GFLOP/s',
      series: ['node-rnn', 'onnxruntime', 'torch'],
      groups: [
        { label: 'LSTM 100x64x256x256 "fwd"', values: [12.5, 10, null] },
        { label: 'GRU <5>', values: [3, null, 4] },
        { label: 'RNN', values: [null, null, 0] },
      ],
    });
    const { names, attrs } = parseXml(svg);
    assert.equal(names[0], 'svg');
    assert.equal(attrs[0].xmlns, 'http://www.w3.org/2000/svg');
    const bars = attrs.filter((a, i) => names[i] === 'rect' && a.class === 'bar');
    assert.equal(bars.length, 5);
    assert.equal(attrs.filter((a, i) => names[i] === 'rect' && a.class === 'legend').length, 3);
    assert.ok(svg.includes(escapeXml('a <title> & more')) && !svg.includes('<title> &'));
    // bar heights are proportional to the values (the zero bar has height 0)
    const heights = bars.map((b) => Number(b.height));
    assert.ok(Math.abs(heights[0] / heights[1] - 12.5 / 10) < 1e-2, `heights ${heights}`);
    assert.equal(heights[4], 0);
  });

  it('rounds the axis maximum up to 1, 2, 2.5 or 5 times a power of ten', () => {
    assert.equal(niceCeil(12.5), 20);
    assert.equal(niceCeil(0.21), 0.25);
    assert.equal(niceCeil(4.9), 5);
    assert.equal(niceCeil(1000), 1000);
  });

  it('charts a run: bars for node-rnn and each peer that has a time', () => {
    const base = { mode: 'LSTM' as const, shape: { T: 5, B: 2, I: 4, H: 8, L: 1, D: 1 as const, P: 0 }, precision: 'float32' as const, device: 'cpu' as const, gflop: 1, loop: '' };
    const results: CaseResult[] = [
      { ...base, label: 'LSTM 5x2x4x8', pass: 'forward', ours: { status: 'ok', ms: 2, gflops: 500, timesMs: [2], ceilingPct: 5, accuracy: null },
        peers: { onnxruntime: { status: 'ok', ms: 4, gflops: 250, timesMs: [4], ratio: 2, check: null }, tfjs: { status: 'skipped', reason: 'r' } } },
      { ...base, label: 'LSTM 5x2x4x8', pass: 'train', ours: { status: 'failed', error: 'x' }, peers: { onnxruntime: { status: 'skipped', reason: 'r' } } },
    ];
    const chart = resultsChart(results, ['onnxruntime', 'tfjs'], 'ms', '');
    assert.deepEqual(chart.series, ['node-rnn', 'onnxruntime']);
    assert.deepEqual(chart.groups.map((g) => g.values), [[2, 4], [null, null]]);
    const { names, attrs } = parseXml(renderBarChart(chart));
    assert.equal(attrs.filter((a, i) => names[i] === 'rect' && a.class === 'bar').length, 2);
  });
});

describe('bench CLI: a tiny CPU run', function () {
  this.timeout(120_000);

  it('prints JSON whose GFLOP/s agree with bench/flops.ts, and writes the chart', () => {
    const svgFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cli-')), 'bench.svg');
    const r = spawnSync(process.execPath, [
      BIN, 'bench', '--shapes', '5x2x4x8', '--pass', 'forward,backward,train', '--repeats', '1', '--warmup', '0',
      '--json', '--compare', 'onnxruntime', '--threads', '1', '--ceiling-size', '128', '--plot', svgFile,
    ], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { results: CaseResult[]; ceilings: Record<string, { gflops: number; size: number }>; environment: { threads: number } };
    assert.equal(doc.environment.threads, 1);
    assert.equal(doc.ceilings.float32.size, 128);
    assert.ok(doc.ceilings.float32.gflops > 0);
    const forward = forwardFlops({ cell: 'LSTM', seqLen: 5, batch: 2, inputSize: 4, hiddenSize: 8, numLayers: 1, bidirectional: false });
    const [T, B, G, I, H] = [5, 2, 4, 4, 8];
    assert.equal(forward, 2 * T * B * G * H * (I + H));
    assert.deepEqual(doc.results.map((x) => x.pass), ['forward', 'backward', 'train']);
    doc.results.forEach((x, i) => {
      assert.equal(x.gflop, ((i + 1) * forward) / 1e9);
      assert.equal(x.ours.status, 'ok', JSON.stringify(x.ours));
      if (x.ours.status !== 'ok') return;
      assert.ok(x.ours.ms > 0);
      assert.equal(x.ours.timesMs.length, 1);
      assert.ok(Math.abs(x.ours.gflops - x.gflop / (x.ours.ms / 1e3)) <= 1e-9 * x.ours.gflops);
      assert.ok(Math.abs(x.ours.ceilingPct! - (100 * x.ours.gflops) / doc.ceilings.float32.gflops) <= 1e-9 * x.ours.ceilingPct!);
      assert.equal(x.ours.accuracy, null); // float32 rows are the reference
    });
    const ort = doc.results[0].peers.onnxruntime!;
    // the GPU machine's trimmed node_modules has no onnxruntime-node: there the peer must be skipped, saying why
    let ortInstalled = true;
    try {
      loadOnnxRuntime(); // from bench/peers (npm run bench:peers)
    } catch {
      ortInstalled = false;
    }
    if (!ortInstalled) {
      assert.equal(ort.status, 'skipped', JSON.stringify(ort));
      assert.match((ort as { reason: string }).reason, /onnxruntime-node could not be loaded \(onnxruntime-node is not installed: install it with `npm run bench:peers`/);
      return;
    }
    assert.equal(ort.status, 'ok', JSON.stringify(ort));
    if (ort.status === 'ok') {
      assert.ok(ort.check !== null && ort.check.what === 'output' && ort.check.relErr < 1e-4 && ort.check.maxAbsErr < 1e-5 && ort.check.agrees);
      assert.ok(Math.abs(ort.ratio - ort.ms / (doc.results[0].ours as { ms: number }).ms) < 1e-9 * ort.ratio);
    }
    assert.deepEqual(doc.results[1].peers.onnxruntime, { status: 'skipped', reason: 'ONNX Runtime is compared on forward passes only' });
    const { names, attrs } = parseXml(fs.readFileSync(svgFile, 'utf8'));
    assert.equal(attrs.filter((a, i) => names[i] === 'rect' && a.class === 'bar').length, 4); // 3 ours + 1 ORT
  });

  it('times float32, bfloat16 and int8 rows, each against node-rnn float32; ONNX Runtime\'s own int8 LSTM on int8 rows', () => {
    const r = spawnSync(process.execPath, [
      BIN, 'bench', '--shapes', '6x3x8x16', '--mode', 'lstm,gru', '--precision', 'float32,bfloat16,int8', '--repeats', '1', '--warmup', '0',
      '--json', '--compare', 'onnxruntime', '--threads', '1', '--ceiling-size', '64',
    ], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { results: CaseResult[]; options: { precisions: string[] } };
    assert.deepEqual(doc.options.precisions, ['float32', 'bfloat16', 'int8']);
    assert.deepEqual(doc.results.map((x) => `${x.mode} ${x.precision}`), ['LSTM float32', 'LSTM bfloat16', 'LSTM int8', 'GRU float32', 'GRU bfloat16', 'GRU int8']);
    assert.match(r.stderr, /precision {2}ours ms {2}GFLOP\/s {2}% ceiling {2}max abs err {2}rel err {2}onnxruntime ms/);
    const hasQuantize = typeof (require('../lib/index') as Record<string, unknown>).quantizeDynamic === 'function';
    let ortInstalled = true;
    try {
      loadOnnxRuntime();
    } catch {
      ortInstalled = false;
    }
    for (const x of doc.results) {
      const what = `${x.mode} ${x.precision}: ${JSON.stringify(x.ours)}`;
      const ort = x.peers.onnxruntime!;
      if (x.precision === 'float32') {
        assert.ok(x.ours.status === 'ok' && x.ours.accuracy === null, what);
        if (ortInstalled) assert.ok(ort.status === 'ok' && ort.check!.relErr < 1e-4 && ort.check!.agrees, JSON.stringify(ort));
      } else if (x.precision === 'bfloat16') {
        assert.ok(x.ours.status === 'ok' && x.ours.accuracy !== null, what);
        assert.ok(x.ours.accuracy.relErr > 0 && x.ours.accuracy.relErr <= 2e-2 && x.ours.accuracy.maxAbsErr > 0 && x.ours.accuracy.maxAbsErr < 0.1, what);
        if (ortInstalled) assert.deepEqual(ort, { status: 'skipped', reason: "ONNX Runtime's CPU execution provider has no bfloat16 LSTM/GRU/RNN kernels" });
      } else {
        if (hasQuantize) assert.ok(x.ours.status === 'ok' && x.ours.accuracy !== null && x.ours.accuracy.relErr > 0 && x.ours.accuracy.relErr <= INT8_TOLERANCE, what);
        else assert.deepEqual(x.ours, { status: 'skipped', reason: NO_QUANTIZE_DYNAMIC });
        if (!ortInstalled) continue;
        if (x.mode === 'GRU') {
          assert.deepEqual(ort, { status: 'skipped', reason: 'ONNX Runtime has no dynamically quantized GRU/RNN operator (quantize_dynamic leaves them float32)' });
          continue;
        }
        // int8's error, well above the float32 model's, well below a wrong model's
        const ort32 = doc.results[0].peers.onnxruntime!;
        assert.ok(ort.status === 'ok' && ort32.status === 'ok', JSON.stringify(ort));
        assert.ok(ort.check!.relErr > 100 * ort32.check!.relErr && ort.check!.relErr <= INT8_TOLERANCE && ort.check!.agrees, JSON.stringify(ort.check));
        assert.ok(ort.ms > 0 && ort.timesMs.length === 1);
        if (!hasQuantize) assert.equal(ort.ratio, null); // NaN in JSON: no node-rnn time to divide by
      }
    }
    if (!hasQuantize) assert.match(r.stderr, new RegExp(`node-rnn "-" \\(2 rows\\): ${NO_QUANTIZE_DYNAMIC}`));
  });

  it('exits with status 2 and a clear message on a usage error', () => {
    const bad = spawnSync(process.execPath, [BIN, 'bench', '--shapes', '5x2x4'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--shapes: "5x2x4" is neither a shape/);
    const unknown = spawnSync(process.execPath, [BIN, 'benchmark'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command "benchmark"/);
  });
});
