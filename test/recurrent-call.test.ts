// The recurrent call's contract: lib/ takes the cell kinds' numbers and gate counts from native code
// (native/binding/contract_binding.cpp over core/cell_kind.h) instead of repeating them.
import { strict as assert } from 'node:assert';
import { native } from '../lib/binding';
import { CELL_MODES, CellMode, GATES, NATIVE_KIND } from '../lib/nn/recurrent-call';
import { fixtureNames, loadFixture } from './helpers/fixtures';

describe('the recurrent call contract', () => {
  it("TypeScript's view of the cell kinds and gate counts is native code's", () => {
    const contract = native.rnnContract();
    assert.deepEqual({ ...NATIVE_KIND }, contract.kinds);
    assert.deepEqual({ ...GATES }, contract.gates);
    assert.deepEqual(Object.keys(contract.kinds).sort(), [...CELL_MODES].sort());
    assert.equal(new Set(Object.values(NATIVE_KIND)).size, CELL_MODES.length, 'every kind has its own number');
  });

  it("the gate counts are PyTorch's: weight_ih has gates * hidden_size rows in every reference case", () => {
    const seen = new Set<CellMode>();
    for (const file of fixtureNames()) {
      const f = loadFixture(file);
      const c = f.config;
      const base = c.module.replace('Cell', '');
      const mode: CellMode = base === 'RNN' ? (c.nonlinearity === 'relu' ? 'RNN_RELU' : 'RNN_TANH') : (base as CellMode);
      const weight = f.tensors[c.module.endsWith('Cell') ? 'weight_ih' : 'weight_ih_l0'];
      assert.ok(weight, `${f.name} has weight_ih`);
      if (c.hidden_size === 0) continue;
      assert.equal(weight.shape[0] / c.hidden_size, GATES[mode], `${f.name}: ${mode} gates`);
      seen.add(mode);
    }
    assert.deepEqual([...seen].sort(), [...CELL_MODES].sort(), 'the reference set covers every kind');
  });
});
