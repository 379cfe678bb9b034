// Every PyTorch reference case, backward: the loss sum(output*grad_output) + sum(h_n*grad_h_n) +
// sum(c_n*grad_c_n) (cells: h_out, c_out), then grad.input, grad.h0, grad.c0 and every grad.<param>
// within relative error 1e-5 of PyTorch's float64 gradients.
import { strict as assert } from 'node:assert';
import { runBackward } from './helpers/backward';
import { fixtureNames, loadFixture, relativeError } from './helpers/fixtures';

const TOLERANCE = 1e-5;


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
