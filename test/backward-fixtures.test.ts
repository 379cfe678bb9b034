// Every PyTorch reference case, backward: the loss sum(output*grad_output) + sum(h_n*grad_h_n) +
// sum(c_n*grad_c_n) (cells: h_out, c_out), then grad.input, grad.h0, grad.c0 and every grad.<param>
// within relative error 1e-5 of PyTorch's float64 gradients.
import { strict as assert } from 'node:assert';
import { GRU, GRUCell, LSTM, LSTMCell, Module, PackedSequence, RNN, RNNCell, Tensor, autograd, packPaddedSequence, padPackedSequence } from '../lib/index';
import { Fixture, fixtureNames, loadFixture, relativeError, buildModule } from './helpers/fixtures';

const TOLERANCE = 1e-5;


/** A fresh leaf copy of a fixture tensor that requires grad. */
function leaf(t: Tensor): Tensor {
  return t.clone().requiresGrad_();
}

function runBackward(f: Fixture): Record<string, Tensor | null> {
  const c = f.config;
  const module = buildModule(f);
  module.loadStateDict(Object.fromEntries(module.namedParameters().map(([name]) => [name, f.tensors[name]])));
  const input = leaf(f.f32('input'));
  const lstm = c.module === 'LSTM' || c.module === 'LSTMCell';
  const h0 = c.has_h0 ? leaf(f.f32('h0')) : null;
  const c0 = c.has_h0 && lstm ? leaf(f.f32('c0')) : null;
  const hx = h0 ? (lstm ? [h0, c0] : h0) : undefined;
  const roots: Tensor[] = [];
  const grads: Tensor[] = [];
  const use = (t: Tensor, gradName: string) => {
    roots.push(t);
    grads.push(f.f32(gradName));
  };
  if (c.module.endsWith('Cell')) {
    const out = (module as LSTMCell).forward(input, hx as [Tensor, Tensor]) as Tensor | [Tensor, Tensor];
    if (Array.isArray(out)) {
      use(out[0], 'grad_h_out');
      use(out[1], 'grad_c_out');
    } else {
      use(out, 'grad_h_out');
    }
  } else {
    const x = c.packed ? packPaddedSequence(input, f.tensors.lengths as never, { batchFirst: c.batch_first, enforceSorted: false }) : input;
    const [out, h] = (module as LSTM).forward(x as Tensor, hx as [Tensor, Tensor]) as [Tensor | PackedSequence, Tensor | [Tensor, Tensor]];
    const output = out instanceof PackedSequence ? padPackedSequence(out, { batchFirst: c.batch_first, totalLength: c.seq_len })[0] : out;
    use(output, 'grad_output');
    if (Array.isArray(h)) {
      use(h[0], 'grad_h_n');
      use(h[1], 'grad_c_n');
    } else {
      use(h, 'grad_h_n');
    }
  }
  autograd.backward(roots, grads);
  const result: Record<string, Tensor | null> = { input: input.grad, h0: h0?.grad ?? null, c0: c0?.grad ?? null };
  for (const [name, p] of module.namedParameters()) result[name] = p.grad;
  return result;
}

describe('backward matches PyTorch on every reference case', () => {
  const worst: Record<string, number> = {};
  after(() => {
    const text = Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ');
    console.log(`      worst gradient relative error by module: ${text}`);
  });
  for (const file of fixtureNames()) {
    it(file.replace(/\.safetensors$/, ''), () => {
      const f = loadFixture(file);
      const grads = runBackward(f);
      const expected = Object.keys(f.tensors).filter((k) => k.startsWith('grad.'));
      assert.ok(expected.length > 0, 'the fixture has gradients');
      for (const key of expected) {
        const name = key.slice('grad.'.length);
        const ours = grads[name];
        assert.ok(ours, `${f.name}: no gradient for ${name}`);
        const err = relativeError(ours, f.f32(key));
        worst[f.config.module] = Math.max(worst[f.config.module] ?? 0, err);
        assert.ok(err <= TOLERANCE, `${f.name}: grad.${name} relative error ${err.toExponential(2)} > ${TOLERANCE}`);
      }
    });
  }
});
