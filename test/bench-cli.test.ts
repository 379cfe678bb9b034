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
    usageError(['--precision', 'int4'], /--precision expects one of float32, tf32, bfloat16, float16, int8, got "int4"/);
    usageError(['--dtype', 'double'], /--dtype expects one of float32, tf32, bfloat16, float16, int8, got "double"/);
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

  it('exits with status 2 and a clear message on a usage error', () => {
    const bad = spawnSync(process.execPath, [BIN, 'bench', '--shapes', '5x2x4'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--shapes: "5x2x4" is neither a shape/);
    const unknown = spawnSync(process.execPath, [BIN, 'benchmark'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command "benchmark"/);
  });
});
