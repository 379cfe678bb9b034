// Every PyTorch reference case: build the module from its config, load its weights, run forward and
// forwardAsync, and compare every result with relative error <= 1e-5.
import { strict as assert } from 'node:assert';
import { GRU, GRUCell, LSTM, LSTMCell, Module, PackedSequence, RNN, RNNCell, Tensor, packPaddedSequence, padPackedSequence } from '../lib/index';
import { Fixture, fixtureNames, loadFixture, relativeError, buildModule } from './helpers/fixtures';

const TOLERANCE = 1e-5;

type Results = Record<string, Tensor>;
interface Case {
  module: Module;
  run(): Results;
  runAsync(): Promise<Results>;
}


function layerCase(f: Fixture, module: RNN | LSTM | GRU): Case {
  const c = f.config;
  const lstm = module instanceof LSTM;
  const hx = c.has_h0 ? (lstm ? [f.f32('h0'), f.f32('c0')] : f.f32('h0')) : undefined;
  const input = (): Tensor | PackedSequence =>
    c.packed ? packPaddedSequence(f.f32('input'), f.tensors.lengths as never, { batchFirst: c.batch_first, enforceSorted: false }) : f.f32('input');
  const collect = ([out, h]: [Tensor | PackedSequence, Tensor | [Tensor, Tensor]]): Results => {
    const output = out instanceof PackedSequence ? padPackedSequence(out, { batchFirst: c.batch_first, totalLength: c.seq_len })[0] : out;
    return Array.isArray(h) ? { output, h_n: h[0], c_n: h[1] } : { output, h_n: h };
  };
  return {
    module,
    run: () => collect((module as LSTM).forward(input() as Tensor, hx as [Tensor, Tensor])),
    runAsync: async () => collect(await (module as LSTM).forwardAsync(input() as Tensor, hx as [Tensor, Tensor])),
  };
}

function cellCase(f: Fixture, module: RNNCell | LSTMCell | GRUCell): Case {
  const lstm = module instanceof LSTMCell;
  const hx = f.config.has_h0 ? (lstm ? [f.f32('h0'), f.f32('c0')] : f.f32('h0')) : undefined;
  const collect = (h: Tensor | [Tensor, Tensor]): Results => (Array.isArray(h) ? { h_out: h[0], c_out: h[1] } : { h_out: h });
  return {
    module,
    run: () => collect((module as LSTMCell).forward(f.f32('input'), hx as [Tensor, Tensor])),
    runAsync: async () => collect(await (module as LSTMCell).forwardAsync(f.f32('input'), hx as [Tensor, Tensor])),
  };
}

function makeCase(f: Fixture): Case {
  const module = buildModule(f);
  const params = Object.fromEntries(module.namedParameters().map(([name]) => [name, f.tensors[name]]));
  module.loadStateDict(params);
  return module instanceof RNN || module instanceof LSTM || module instanceof GRU ? layerCase(f, module) : cellCase(f, module as RNNCell);
}

function compare(f: Fixture, results: Results): void {
  for (const key of ['output', 'h_n', 'c_n', 'h_out', 'c_out']) {
    const ref = f.tensors[key];
    if (!ref) continue;
    assert.ok(results[key], `${f.name}: no ${key} returned`);
    const err = relativeError(results[key], ref as Tensor);
    worst[f.config.module] = Math.max(worst[f.config.module] ?? 0, err);
    assert.ok(err <= TOLERANCE, `${f.name}: ${key} relative error ${err.toExponential(2)} > ${TOLERANCE}`);
  }
  assert.equal(Object.keys(results).length, ['output', 'h_n', 'c_n', 'h_out', 'c_out'].filter((k) => f.tensors[k]).length);
}

const worst: Record<string, number> = {};

describe('forward matches PyTorch on every reference case', () => {
  const names = fixtureNames();
  after(() => {
    const text = Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ');
    console.log(`      worst forward relative error by module: ${text}`);
  });
  it('finds the whole reference set (138 cases)', () => {
    assert.equal(names.length, 138);
  });
  for (const file of names) {
    it(file.replace(/\.safetensors$/, ''), async () => {
      const f = loadFixture(file);
      const c = makeCase(f);
      compare(f, c.run());
      compare(f, await c.runAsync());
    });
  }
});
