// The three short PyTorch training runs (test/fixtures/training): each model rebuilt with this API, started from
// PyTorch's initial weights, trained the same steps on the same data; losses and first gradients within 1e-5,
// final weights within 1e-4 (Adam/AdamW 1e-3: their first steps divide by tiny second moments, amplifying rounding).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnyTensor, Module, Tensor, loadSafetensors, readSafetensorsMetadata } from '../lib/index';
import { crossEntropy, mseLoss } from '../lib/nn/functional/index';
import { clipGradNorm } from '../lib/nn/clip';
import { Adam, AdamW, Optimizer, SGD } from '../lib/optim/index';
import { relativeError } from './helpers/fixtures';
import { CharLM, Classifier, Regressor, TRAINING_DIR, prefixed } from './helpers/training-models';

const DIR = TRAINING_DIR;

interface Case {
  model: Module;
  loss(): Tensor;
  optimizer(params: Tensor[]): Optimizer;
  clip: number;
  finalTolerance: number;
}

function makeCase(name: string, t: Record<string, AnyTensor>): Case {
  const f32 = (k: string) => t[k] as Tensor;
  const i64 = (k: string) => t[k] as Tensor<'int64'>;
  if (name === 'charlm-lstm-adam') {
    const model = new CharLM();
    return {
      model,
      loss: () => crossEntropy(model.forward(i64('data.tokens')).reshape(-1, 13), i64('data.targets').reshape(-1)),
      optimizer: (params) => new Adam(params, { lr: 0.01 }),
      clip: 1.0,
      finalTolerance: 1e-3,
    };
  }
  if (name === 'regress-gru-sgd') {
    const model = new Regressor();
    return {
      model,
      loss: () => mseLoss(model.forward(f32('data.x')), f32('data.y')),
      optimizer: (params) => new SGD(params, { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }),
      clip: 0,
      finalTolerance: 1e-4,
    };
  }
  const model = new Classifier();
  return {
    model,
    loss: () => crossEntropy(model.forward(f32('data.x')), i64('data.y')),
    optimizer: (params) => new AdamW(params, { lr: 0.005, weightDecay: 0.01 }),
    clip: 0.5,
    finalTolerance: 1e-3,
  };
}

describe('training runs match PyTorch', () => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.safetensors')).sort();
  it('finds the three training runs', () => assert.equal(files.length, 3));
  for (const file of files) {
    const name = file.replace(/\.safetensors$/, '');
    it(name, () => {
      const t = loadSafetensors(path.join(DIR, file));
      const config = JSON.parse(readSafetensorsMetadata(path.join(DIR, file)).config) as { steps: number };
      const c = makeCase(name, t);
      c.model.loadStateDict(prefixed(t, 'init.'));
      const params = c.model.parameters();
      const opt = c.optimizer(params);
      const losses: number[] = [];
      for (let step = 0; step < config.steps; step++) {
        opt.zeroGrad();
        const loss = c.loss();
        loss.backward();
        if (step === 0) {
          for (const [k, p] of c.model.namedParameters()) {
            const err = relativeError(p.grad!, t[`grad0.${k}`] as Tensor);
            assert.ok(err <= 1e-5, `${name}: grad0.${k} relative error ${err.toExponential(2)}`);
          }
        }
        if (c.clip > 0) clipGradNorm(params, c.clip);
        opt.step();
        losses.push(loss.data[0]);
      }
      const expected = Array.from((t.losses as Tensor).data);
      losses.forEach((l, i) => assert.ok(Math.abs(l - expected[i]) <= 1e-5 * Math.abs(expected[i]), `${name}: loss ${i} ${l} vs ${expected[i]}`));
      for (const [k, p] of c.model.namedParameters()) {
        const err = relativeError(p, t[`final.${k}`] as Tensor);
        assert.ok(err <= c.finalTolerance, `${name}: final.${k} relative error ${err.toExponential(2)} > ${c.finalTolerance}`);
      }
    });
  }
});
