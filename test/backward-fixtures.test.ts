// Every PyTorch reference case, backward: the loss sum(output*grad_output) + sum(h_n*grad_h_n) +
// sum(c_n*grad_c_n) (cells: h_out, c_out), then grad.input, grad.h0, grad.c0 and every grad.<param>
// within relative error 1e-5 of PyTorch's float64 gradients.
import { compareGradients, runBackward } from './helpers/backward';
import { fixtureNames, loadFixture } from './helpers/fixtures';

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
      const err = compareGradients(f, runBackward(f), () => TOLERANCE);
      worst[f.config.module] = Math.max(worst[f.config.module] ?? 0, err);
    });
  }
});
