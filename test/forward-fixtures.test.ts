// Every PyTorch reference case: build the module from its config, load its weights, run forward and
// forwardAsync, and compare every result with relative error <= 1e-5.
import { strict as assert } from 'node:assert';
import { fixtureNames, loadFixture, buildModule } from './helpers/fixtures';
import { ON_CPU, compareForward, forwardCase } from './helpers/forward';

const TOLERANCE = 1e-5;
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
      const module = buildModule(f);
      module.loadStateDict(Object.fromEntries(module.namedParameters().map(([name]) => [name, f.tensors[name]])));
      const c = forwardCase(f, module, ON_CPU);
      for (const results of [c.run(), await c.runAsync()]) {
        worst[f.config.module] = Math.max(worst[f.config.module] ?? 0, compareForward(f, results, TOLERANCE));
      }
    });
  }
});
