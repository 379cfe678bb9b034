// The char-LM example (examples/charlm-model.ts) trained on CUDA follows its CPU run: same weights and batches
// (one seed), every per-step loss and the held-out loss within 1e-3. An end-to-end check of a CUDA training step
// (Embedding, LSTM, Linear, crossEntropy, backward, clipGradNorm, Adam) on the GPU. Skipped, saying why, without one.
import { strict as assert } from 'node:assert';
import { cuda } from '../lib/index';
import { trainCharLM } from '../examples/charlm-model';
import { whyUnavailable } from './helpers/cuda';

describe('cuda: the char-LM example', function () {
  before(function () {
    if (!cuda.isAvailable()) {
      console.log(`    CUDA char-LM test skipped: ${whyUnavailable()}`);
      this.skip();
    }
  });

  it('trains on CUDA as on the CPU: per-step and held-out losses within 1e-3, the model returned on the CPU', () => {
    const run = (device: 'cpu' | 'cuda') => {
      const losses: number[] = [];
      const result = trainCharLM({ steps: 12, batchSize: 8, seqLen: 32, seed: 3, device, onStep: ({ loss }) => losses.push(loss) });
      return { losses, result };
    };
    const cpu = run('cpu');
    const gpu = run('cuda');
    assert.equal(gpu.losses.length, 12);
    gpu.losses.forEach((l, i) => {
      assert.ok(Math.abs(l - cpu.losses[i]) <= 1e-3 * Math.abs(cpu.losses[i]), `step ${i + 1}: CUDA loss ${l}, CPU loss ${cpu.losses[i]}`);
    });
    assert.ok(cpu.losses[11] < cpu.losses[0], 'the loss fell over the run (the test trains something)');
    assert.ok(Math.abs(gpu.result.valLossAfter - cpu.result.valLossAfter) <= 1e-3 * cpu.result.valLossAfter);
    assert.ok(gpu.result.model.parameters().every((p) => p.device === 'cpu'));
  });
});
