// The PyTorch reference set (test/fixtures/torch, a copy of the shared set): every case, read from the folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnyTensor, GRU, GRUCell, LSTM, LSTMCell, Module, RNN, RNNCell, Tensor, loadSafetensors, readSafetensorsMetadata } from '../../lib/index';

export const FIXTURE_DIR = path.resolve(__dirname, '../../../test/fixtures/torch');

export interface FixtureConfig {
  module: 'RNN' | 'LSTM' | 'GRU' | 'RNNCell' | 'LSTMCell' | 'GRUCell';
  input_size: number;
  hidden_size: number;
  num_layers?: number;
  bias: boolean;
  batch_first?: boolean;
  bidirectional?: boolean;
  dropout?: number;
  nonlinearity?: 'tanh' | 'relu';
  proj_size?: number;
  seq_len?: number;
  batch: number;
  batched: boolean;
  has_h0: boolean;
  packed?: boolean;
}

export interface Fixture {
  name: string;
  config: FixtureConfig;
  tensors: Record<string, AnyTensor>;
  f32(name: string): Tensor;
}

export function fixtureNames(): string[] {
  return fs.readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.safetensors')).sort();
}

export function loadFixture(file: string): Fixture {
  const full = path.join(FIXTURE_DIR, file);
  const tensors = loadSafetensors(full);
  const config = JSON.parse(readSafetensorsMetadata(full).config) as FixtureConfig;
  return {
    name: file.replace(/\.safetensors$/, ''),
    config,
    tensors,
    f32(name: string): Tensor {
      const t = tensors[name];
      if (!t || t.dtype !== 'float32') throw new Error(`fixture ${file} has no float32 tensor ${name}`);
      return t as Tensor;
    },
  };
}

/** ‖ours − ref‖ / ‖ref‖ in float64 (absolute error when the reference is all zeros). */
export function relativeError(ours: Tensor, ref: Tensor): number {
  if (ours.shape.join() !== ref.shape.join()) throw new Error(`shape [${ours.shape}] != reference [${ref.shape}]`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < ref.numel; i++) {
    const d = ours.data[i] - ref.data[i];
    diff += d * d;
    norm += ref.data[i] * ref.data[i];
  }
  if (Number.isNaN(diff)) return Infinity;
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

/** The module a reference case describes, with fresh (not yet loaded) parameters. */
export function buildModule(f: Fixture): Module {
  const c = f.config;
  const common = { inputSize: c.input_size, hiddenSize: c.hidden_size, bias: c.bias };
  const layers = { ...common, numLayers: c.num_layers, batchFirst: c.batch_first, bidirectional: c.bidirectional, dropout: c.dropout };
  switch (c.module) {
    case 'RNN': return new RNN({ ...layers, nonlinearity: c.nonlinearity });
    case 'LSTM': return new LSTM({ ...layers, projSize: c.proj_size ?? 0 });
    case 'GRU': return new GRU(layers);
    case 'RNNCell': return new RNNCell({ ...common, nonlinearity: c.nonlinearity });
    case 'LSTMCell': return new LSTMCell(common);
    case 'GRUCell': return new GRUCell(common);
  }
}
