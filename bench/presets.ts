// Named case lists for --shapes: `cpu-default` (what `npm run bench` has always timed: forward passes next to
// ONNX Runtime, training steps next to TensorFlow.js) and `torch-h100` / `torch-h100-quick` (the float32
// shapes of the PyTorch H100 baseline, kept in bench/gpu-shapes.json).

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchCase, Mode, Pass, Precision, Shape } from './cases';

export const PRESET_NAMES = ['cpu-default', 'torch-h100', 'torch-h100-quick'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export function isPresetName(text: string): text is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(text);
}

const square = (T: number, B: number, H: number, L = 1, D: 1 | 2 = 1): Shape => ({ T, B, I: H, H, L, D, P: 0 });
const make = (mode: Mode, shape: Shape, pass: Pass, precision: Precision = 'float32'): BenchCase => ({ mode, shape, pass, precision });

function cpuDefault(): BenchCase[] {
  return [
    make('LSTM', square(100, 1, 256), 'forward'),
    make('LSTM', square(100, 1, 256, 2), 'forward'),
    make('LSTM', square(100, 64, 256), 'forward'),
    make('LSTM', square(100, 64, 512), 'forward'),
    make('LSTM', square(50, 16, 1024), 'forward'),
    make('GRU', square(100, 64, 256), 'forward'),
    make('RNN_TANH', square(100, 64, 256), 'forward'),
    make('LSTM', square(100, 64, 256, 2, 2), 'forward'),
    make('LSTM', square(100, 64, 256), 'train'),
    make('GRU', square(100, 64, 256), 'train'),
  ];
}

interface FileShape {
  mode: 'LSTM' | 'GRU' | 'RNN';
  T: number;
  B: number;
  I: number;
  H: number;
  L: number;
  D: number;
  quick?: boolean;
}

/** dist/bench/presets.js -> bench/gpu-shapes.json (the JSON stays in the source tree, next to torch_peer.py). */
export function gpuShapesFile(): string {
  const candidates = [path.resolve(__dirname, '..', '..', 'bench', 'gpu-shapes.json'), path.resolve(__dirname, 'gpu-shapes.json')];
  return candidates.find((f) => fs.existsSync(f)) ?? candidates[0];
}

function torchH100(quick: boolean): BenchCase[] {
  const file = gpuShapesFile();
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { tf32Modes?: string[]; shapes?: FileShape[]; trainShapes?: FileShape[] };
  const tf32Modes = raw.tf32Modes ?? ['LSTM'];
  const cases: BenchCase[] = [];
  const add = (list: FileShape[] | undefined, pass: Pass): void => {
    for (const s of list ?? []) {
      if (quick && s.quick !== true) continue;
      if (!['LSTM', 'GRU', 'RNN'].includes(s.mode)) throw new Error(`${file}: unknown mode ${JSON.stringify(s.mode)}`);
      for (const k of ['T', 'B', 'I', 'H', 'L', 'D'] as const) {
        if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`${file}: ${k} of ${JSON.stringify(s)} is not a positive integer`);
      }
      if (s.D !== 1 && s.D !== 2) throw new Error(`${file}: D must be 1 or 2 in ${JSON.stringify(s)}`);
      const mode: Mode = s.mode === 'RNN' ? 'RNN_TANH' : s.mode;
      const shape: Shape = { T: s.T, B: s.B, I: s.I, H: s.H, L: s.L, D: s.D, P: 0 };
      cases.push(make(mode, shape, pass, 'float32'));
      if (tf32Modes.includes(s.mode)) cases.push(make(mode, shape, pass, 'tf32'));
    }
  };
  add(raw.shapes, 'forward');
  add(raw.trainShapes, 'train');
  // float32 rows first, then TF32, as the baseline lists them
  return [...cases.filter((c) => c.precision === 'float32'), ...cases.filter((c) => c.precision === 'tf32')];
}

export function presetCases(name: PresetName): BenchCase[] {
  switch (name) {
    case 'cpu-default':
      return cpuDefault();
    case 'torch-h100':
      return torchH100(false);
    case 'torch-h100-quick':
      return torchH100(true);
  }
}
