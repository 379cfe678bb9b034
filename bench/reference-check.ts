// Before timing, node-rnn is checked against PyTorch's own outputs (three reference cases from
// test/fixtures/torch: an LSTM, a GRU and an RNN), since the bench may run with another OpenBLAS kernel than
// the tests. Skipped (and said so) where the fixtures are not shipped, e.g. in an installed package.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnyTensor, Module, Tensor } from '../lib/index';
import type { NodeRnn } from './ours';
import { relativeError } from './timing';

export const REF_TOLERANCE = 1e-5;

interface FixtureConfig {
  module: string;
  input_size: number;
  hidden_size: number;
  num_layers?: number;
  bias: boolean;
  batch_first?: boolean;
  bidirectional?: boolean;
  dropout?: number;
  nonlinearity?: 'tanh' | 'relu';
  proj_size?: number;
  has_h0: boolean;
  packed?: boolean;
  batched?: boolean;
}

export interface ReferenceReport {
  maxErr: number;
  cases: { file: string; err: number }[];
}

export const FIXTURE_DIR = path.resolve(__dirname, '../../test/fixtures/torch');

function pickFixtures(lib: NodeRnn): string[] {
  const files = fs.readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.safetensors')).sort();
  const config = (file: string): FixtureConfig => JSON.parse(lib.readSafetensorsMetadata(path.join(FIXTURE_DIR, file)).config);
  const plain = (file: string): boolean => {
    const c = config(file);
    return c.packed === false && c.batched === true;
  };
  const picked = ['000-LSTM.safetensors'];
  if (!files.includes(picked[0])) throw new Error(`${picked[0]} is missing from ${FIXTURE_DIR}`);
  for (const tag of ['-GRU.', '-RNN.']) {
    const file = files.find((f) => f.includes(tag) && plain(f));
    if (file === undefined) throw new Error(`no unpacked, batched fixture named *${tag}* in ${FIXTURE_DIR}`);
    picked.push(file);
  }
  return picked;
}

/** Max relative error of output (and h_n, c_n) over the picked fixtures; null when there are no fixtures; throws past REF_TOLERANCE. */
export function referenceCheck(lib: NodeRnn): ReferenceReport | null {
  if (!fs.existsSync(FIXTURE_DIR)) return null;
  const cases: { file: string; err: number }[] = [];
  for (const file of pickFixtures(lib)) {
    const full = path.join(FIXTURE_DIR, file);
    const c = JSON.parse(lib.readSafetensorsMetadata(full).config) as FixtureConfig;
    if (c.packed !== false || c.batched !== true) throw new Error(`${file}: expected packed false and batched true in its config`);
    const t = lib.loadSafetensors(full);
    const f32 = (name: string): Tensor => {
      const x = t[name];
      if (x === undefined || x.dtype !== 'float32') throw new Error(`${file}: no float32 tensor ${name}`);
      return x as Tensor;
    };
    const options = {
      inputSize: c.input_size,
      hiddenSize: c.hidden_size,
      numLayers: c.num_layers,
      bias: c.bias,
      batchFirst: c.batch_first,
      bidirectional: c.bidirectional,
      dropout: c.dropout,
    };
    const load = (m: Module): void => {
      m.eval();
      const params: Record<string, AnyTensor> = {};
      for (const [name] of m.namedParameters()) params[name] = t[name];
      m.loadStateDict(params);
    };
    let results: Record<string, Tensor>;
    if (c.module === 'LSTM') {
      const m = new lib.LSTM({ ...options, projSize: c.proj_size ?? 0 });
      load(m);
      const [out, [h, cell]] = lib.noGrad(() => m.forward(f32('input'), c.has_h0 ? [f32('h0'), f32('c0')] : undefined));
      results = { output: out, h_n: h, c_n: cell };
    } else if (c.module === 'GRU' || c.module === 'RNN') {
      const m = c.module === 'GRU' ? new lib.GRU(options) : new lib.RNN({ ...options, nonlinearity: c.nonlinearity });
      load(m);
      const [out, h] = lib.noGrad(() => m.forward(f32('input'), c.has_h0 ? f32('h0') : undefined));
      results = { output: out, h_n: h };
    } else {
      throw new Error(`${file}: unexpected module ${c.module}`);
    }
    let err = 0;
    for (const [key, ours] of Object.entries(results)) {
      const ref = t[key];
      if (ref === undefined) {
        if (key === 'output') throw new Error(`${file}: no reference output`);
        continue;
      }
      if (ours.shape.join() !== ref.shape.join()) throw new Error(`${file}: ${key} has shape [${ours.shape}], PyTorch [${ref.shape}]`);
      err = Math.max(err, relativeError(ours.data, (ref as Tensor).data));
    }
    cases.push({ file, err });
    if (!(err <= REF_TOLERANCE)) throw new Error(`${file}: relative error ${err.toExponential(2)} > ${REF_TOLERANCE}`);
  }
  return { maxErr: Math.max(...cases.map((x) => x.err)), cases };
}
