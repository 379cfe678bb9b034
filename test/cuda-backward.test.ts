// Backward on CUDA: every PyTorch reference case's gradients computed on the GPU (float32 within 1e-5, TF32
// within 2e-3), gradients that stay on the device, accumulation, differentiable device moves, dropout masks equal
// to the CPU's, and SGD training on CUDA equal to training on the CPU. Skipped, saying why, without a GPU.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GRU, LSTM, RNN, Tensor, autograd, cuda, getFloat32MatmulPrecision, manualSeed, randn, setFloat32MatmulPrecision } from '../lib/index';
import { mseLoss } from '../lib/nn/functional/index';
import { Adam, AdamW, SGD } from '../lib/optim/index';
import { compareGradients, runBackward } from './helpers/backward';
import { whyUnavailable } from './helpers/cuda';
import { fixtureNames, loadFixture, relativeError } from './helpers/fixtures';

/**
 * PyTorch's own TF32 gradient errors on CUDA (scripts/torch_cuda_errors.py, run on the GPU machine), by case and
 * gradient name. TF32 keeps 10 mantissa bits; through long relu or 1-unit recurrences PyTorch's own TF32 gradients
 * stray past 1e-2, so the bar per gradient is 2e-3 or twice PyTorch's own error there, whichever is larger.
 */
interface TorchErrors {
  cases: Record<string, { float32: Record<string, number>; tf32: Record<string, number> }>;
}
const TORCH_ERRORS_FILE = path.resolve(__dirname, '../../test/fixtures/torch-cuda-errors.json');
const torchErrors: TorchErrors | null = fs.existsSync(TORCH_ERRORS_FILE)
  ? (JSON.parse(fs.readFileSync(TORCH_ERRORS_FILE, 'utf8')) as TorchErrors)
  : null;

function tf32Bound(caseName: string, key: string): number {
  const theirs = torchErrors?.cases[caseName]?.tf32[key];
  return Math.max(2e-3, theirs === undefined ? 0 : 2 * theirs);
}

/** Worst gradient error per precision and module, printed after each run of the cases. */
const worst: Record<string, number> = {};
function printWorst(prefix: string): void {
  const text = Object.entries(worst).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => `${k.slice(prefix.length)} ${v.toExponential(1)}`);
  console.log(`      worst ${prefix.trim()} gradient relative error on CUDA by module: ${text.join(', ')}`);
}

function checkCase(file: string, bound: (caseName: string, key: string) => number, label: string): void {
  const f = loadFixture(file);
  const err = compareGradients(f, runBackward(f, 'cuda:0'), (key) => bound(f.name, key), 'cuda:0');
  const w = `${label} ${f.config.module}`;
  worst[w] = Math.max(worst[w] ?? 0, err);
}

/** Values of `t` (any device) as a plain array. */
const values = (t: Tensor): number[] => Array.from(t.cpu().data);

function assertClose(actual: Tensor, expected: Tensor, tolerance: number, what: string): void {
  const err = relativeError(actual.cpu(), expected.cpu());
  assert.ok(err <= tolerance, `${what}: relative error ${err.toExponential(2)} > ${tolerance}`);
}

describe('cuda backward', function () {
  before(function () {
    if (!cuda.isAvailable()) {
      console.log(`    CUDA backward tests skipped: ${whyUnavailable()}`);
      this.skip();
    }
  });

  describe("every PyTorch reference case in float32 (precision 'highest'): gradients within 1e-5", () => {
    before(() => assert.equal(getFloat32MatmulPrecision(), 'highest'));
    after(() => printWorst('float32 '));
    for (const file of fixtureNames()) it(file.replace(/\.safetensors$/, ''), () => checkCase(file, () => 1e-5, 'float32'));
  });

  describe("every PyTorch reference case in TF32 (precision 'high'): gradients within max(2e-3, 2 x PyTorch's TF32 error)", () => {
    before(() => {
      assert.ok(torchErrors, `${TORCH_ERRORS_FILE} is missing (make it on the GPU machine with scripts/torch_cuda_errors.py)`);
      assert.equal(Object.keys(torchErrors.cases).length, fixtureNames().length, 'PyTorch TF32 errors for every case');
      setFloat32MatmulPrecision('high');
    });
    after(() => {
      setFloat32MatmulPrecision('highest');
      printWorst('tf32 ');
    });
    for (const file of fixtureNames()) it(file.replace(/\.safetensors$/, ''), () => checkCase(file, tf32Bound, 'tf32'));
  });

  describe('autograd with CUDA tensors', () => {
    it('gradients of CUDA leaves stay on the device and accumulate over two backward calls', () => {
      manualSeed(1);
      const m = new LSTM({ inputSize: 3, hiddenSize: 5 });
      const x = randn([4, 2, 3]);
      const g = randn([4, 2, 5]);
      const [outCpu] = m.forward(x);
      autograd.backward([outCpu], [g]);
      const cpuGrads = m.parameters().map((p) => p.grad!.clone());
      m.zeroGrad();
      m.to('cuda');
      const xd = x.cuda();
      for (let k = 0; k < 2; k++) {
        const [out] = m.forward(xd);
        autograd.backward([out], [g.cuda()]);
      }
      m.parameters().forEach((p, i) => {
        assert.equal(p.grad!.device, 'cuda:0');
        const twice = cpuGrads[i].hostData().map((v) => 2 * v);
        assertClose(p.grad!, new Tensor(twice, cpuGrads[i].shape), 1e-5, `param ${i}`);
      });
    });

    it("a CUDA output moved to the CPU is differentiable: the loss on the host, gradients back on the device", () => {
      manualSeed(2);
      const cpu = new GRU({ inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true });
      const x = randn([5, 3, 4]);
      const target = randn([5, 3, 12]);
      const lossCpu = mseLoss(cpu.forward(x)[0], target);
      lossCpu.backward();
      const expected = cpu.parameters().map((p) => p.grad!.clone());
      cpu.zeroGrad();
      cpu.to('cuda');
      const xd = x.cuda().requiresGrad_();
      const out = cpu.forward(xd)[0];
      const loss = mseLoss(out.cpu(), target);
      assert.ok(Math.abs(loss.data[0] - lossCpu.data[0]) <= 1e-6 * Math.abs(lossCpu.data[0]) + 1e-7);
      loss.backward();
      assert.equal(xd.grad!.device, 'cuda:0');
      cpu.parameters().forEach((p, i) => assertClose(p.grad!, expected[i], 1e-5, `param ${i}`));
    });

    it('dropout between layers in training uses the CPU masks: equal outputs and gradients for the same seed', () => {
      const build = () => {
        manualSeed(3);
        return new RNN({ inputSize: 3, hiddenSize: 8, numLayers: 3, dropout: 0.5 });
      };
      const x = randn([6, 2, 3]);
      const g = randn([6, 2, 8]);
      const a = build();
      manualSeed(10);
      const [outA] = a.forward(x);
      autograd.backward([outA], [g]);
      const b = build().to('cuda');
      manualSeed(10);
      const [outB] = b.forward(x.cuda());
      autograd.backward([outB], [g.cuda()]);
      assertClose(outB, outA, 1e-5, 'output');
      a.parameters().forEach((p, i) => assertClose(b.parameters()[i].grad!, p.grad!, 1e-5, `param ${i}`));
      // some units really were dropped (the mask is not all ones)
      assert.ok(values(a.parameters()[0].grad!).some((v) => v !== 0));
    });

    it('ten SGD steps on CUDA follow the same path as on the CPU', () => {
      const build = () => {
        manualSeed(4);
        return new LSTM({ inputSize: 4, hiddenSize: 8, projSize: 3, batchFirst: true });
      };
      const x = randn([2, 7, 4]);
      const target = randn([2, 7, 3]);
      const cpu = build();
      const gpu = build().to('cuda');
      const optCpu = new SGD(cpu.parameters(), { lr: 0.1, momentum: 0.9 });
      const optGpu = new SGD(gpu.parameters(), { lr: 0.1, momentum: 0.9 });
      const xd = x.cuda();
      for (let step = 0; step < 10; step++) {
        optCpu.zeroGrad();
        mseLoss(cpu.forward(x)[0], target).backward();
        optCpu.step();
        optGpu.zeroGrad();
        mseLoss(gpu.forward(xd)[0].cpu(), target).backward();
        optGpu.step();
      }
      cpu.parameters().forEach((p, i) => assertClose(gpu.parameters()[i], p, 1e-4, `param ${i} after 10 steps`));
    });

    it('Adam (amsgrad, L2 decay) and AdamW update CUDA parameters on the GPU as the CPU updates do', () => {
      for (const [name, make] of [
        ['Adam', (ps: Tensor[]) => new Adam(ps, { lr: 0.01, weightDecay: 0.1, amsgrad: true })],
        ['AdamW', (ps: Tensor[]) => new AdamW(ps, { lr: 0.01, betas: [0.8, 0.99], maximize: true })],
      ] as const) {
        const build = () => {
          manualSeed(5);
          return new GRU({ inputSize: 3, hiddenSize: 6, numLayers: 2 });
        };
        const x = randn([5, 2, 3]);
        const target = randn([5, 2, 6]);
        const cpu = build();
        const gpu = build().to('cuda');
        const optCpu = make(cpu.parameters());
        const optGpu = make(gpu.parameters());
        for (let step = 0; step < 5; step++) {
          optCpu.zeroGrad();
          mseLoss(cpu.forward(x)[0], target).backward();
          optCpu.step();
          optGpu.zeroGrad();
          mseLoss(gpu.forward(x.cuda())[0].cpu(), target).backward();
          optGpu.step();
        }
        cpu.parameters().forEach((p, i) => {
          assert.equal(gpu.parameters()[i].device, 'cuda:0');
          assertClose(gpu.parameters()[i], p, 1e-4, `${name} param ${i} after 5 steps`);
        });
        const state = optGpu.stateDict().state[0];
        assert.equal((state.exp_avg as Tensor).device, 'cuda:0', `${name}: state stays on the GPU`);
      }
    });

    it('a second backward through a CUDA graph is refused, as on the CPU', () => {
      const m = new GRU({ inputSize: 2, hiddenSize: 3 }).to('cuda');
      const [out] = m.forward(randn([3, 1, 2]).cuda());
      const g = randn([3, 1, 3]).cuda();
      autograd.backward([out], [g]);
      assert.throws(() => autograd.backward([out], [g]), /backward through the graph a second time/);
    });

    it('a gradient on another device than its tensor is refused', () => {
      const m = new RNN({ inputSize: 2, hiddenSize: 3 }).to('cuda');
      const [out] = m.forward(randn([3, 1, 2]).cuda());
      assert.throws(() => autograd.backward([out], [randn([3, 1, 3])]), /expected device cuda:0 but got cpu/);
    });
  });
});
