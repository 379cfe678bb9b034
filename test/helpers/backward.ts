// The backward half of the reference cases, on any device: the loss sum(output*grad_output) + sum(h_n*grad_h_n) +
// sum(c_n*grad_c_n) (cells: h_out, c_out) through autograd, returning every gradient PyTorch computed.
import { strict as assert } from 'node:assert';
import { Device } from '../../lib/cuda';
import { LSTM, LSTMCell, PackedSequence, Tensor, autograd, packPaddedSequence, padPackedSequence } from '../../lib/index';
import { Fixture, buildModule, relativeError } from './fixtures';

/** A fresh leaf copy of a fixture tensor on `device` that requires grad. */
function leaf(t: Tensor, device: Device): Tensor {
  return (device === 'cpu' ? t.clone() : t.to(device)).requiresGrad_();
}

/** The gradients of the case's loss on `device` (as found on the leaves there), by name: input, h0, c0, params. */
export function runBackward(f: Fixture, device: Device = 'cpu'): Record<string, Tensor | null> {
  const c = f.config;
  const module = buildModule(f);
  module.loadStateDict(Object.fromEntries(module.namedParameters().map(([name]) => [name, f.tensors[name]])));
  if (device !== 'cpu') module.to(device);
  const on = (t: Tensor) => (device === 'cpu' ? t : t.to(device));
  const input = leaf(f.f32('input'), device);
  const lstm = c.module === 'LSTM' || c.module === 'LSTMCell';
  const h0 = c.has_h0 ? leaf(f.f32('h0'), device) : null;
  const c0 = c.has_h0 && lstm ? leaf(f.f32('c0'), device) : null;
  const hx = h0 ? (lstm ? [h0, c0] : h0) : undefined;
  const roots: Tensor[] = [];
  const grads: Tensor[] = [];
  const use = (t: Tensor, gradName: string) => {
    roots.push(t);
    grads.push(on(f.f32(gradName)));
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

/**
 * Every gradient PyTorch computed for the case is among `grads`, on `device`, within `bound(key)` relative error of
 * the reference (key: 'grad.<name>'); returns the worst error.
 */
export function compareGradients(f: Fixture, grads: Record<string, Tensor | null>, bound: (key: string) => number, device: Device = 'cpu'): number {
  const expected = Object.keys(f.tensors).filter((k) => k.startsWith('grad.'));
  assert.ok(expected.length > 0, 'the fixture has gradients');
  let worst = 0;
  for (const key of expected) {
    const name = key.slice('grad.'.length);
    const ours = grads[name];
    assert.ok(ours, `${f.name}: no gradient for ${name}`);
    assert.equal(ours.device, device, `${f.name}: grad of ${name} is on ${ours.device}`);
    const err = relativeError(device === 'cpu' ? ours : ours.cpu(), f.f32(key));
    worst = Math.max(worst, err);
    const limit = bound(key);
    assert.ok(err <= limit, `${f.name}: grad.${name} relative error ${err.toExponential(2)} > ${limit.toExponential(2)}`);
  }
  return worst;
}
