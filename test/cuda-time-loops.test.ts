// The three float32 CUDA time loops, each against the CPU (itself checked against PyTorch) at the sizes it is
// chosen for: one persistent cooperative kernel for the whole sequence (W_hh resident in shared memory), one
// fused kernel per step (small batch, W_hh read from L2), and a cuBLAS GEMM + step kernel per step (the rest).
// Forward and, for the persistent loop, the recording forward and backward; and the pipelined forward of stacks
// (layers and input projections overlapped on several streams, cuda_pipelined_forward.cpp). native.cudaStepPlan says which
// loop a shape takes; the test checks every loop not turned off by NODE_RNN_CUDA_PERSISTENT=0 /
// NODE_RNN_CUDA_FUSED=0 really ran. Skipped, saying why, without a GPU.
import { strict as assert } from 'node:assert';
import { GRU, LSTM, Module, PackedSequence, RNN, Tensor, cuda, manualSeed, packPaddedSequence, randn } from '../lib/index';
import { native } from '../lib/binding';
import { mseLoss } from '../lib/nn/functional/index';
import { whyUnavailable } from './helpers/cuda';
import { relativeError } from './helpers/fixtures';

type Recurrent = RNN | LSTM | GRU;
type Output = [Tensor | PackedSequence, Tensor | [Tensor, Tensor]];

const KIND = { tanh: 0, relu: 1, lstm: 2, gru: 3 } as const;

interface Case {
  name: string;
  kind: keyof typeof KIND;
  make: () => Recurrent;
  batch: number;
  hidden: number;
  outSize?: number;
  input: number;
  steps?: number;
  lengths?: number[];  // packed input (enforceSorted false) when given
}

const CASES: Case[] = [
  { name: 'LSTM B8 H1024', kind: 'lstm', make: () => new LSTM({ inputSize: 64, hiddenSize: 1024 }), batch: 8, hidden: 1024, input: 64 },
  { name: 'LSTM B1 H256', kind: 'lstm', make: () => new LSTM({ inputSize: 32, hiddenSize: 256 }), batch: 1, hidden: 256, input: 32 },
  { name: 'GRU B5 H259 (scalar loads: P % 4 != 0)', kind: 'gru', make: () => new GRU({ inputSize: 7, hiddenSize: 259 }), batch: 5, hidden: 259, input: 7 },
  { name: 'RNN B16 H520', kind: 'tanh', make: () => new RNN({ inputSize: 16, hiddenSize: 520 }), batch: 16, hidden: 520, input: 16 },
  { name: 'RNN B64 H256', kind: 'tanh', make: () => new RNN({ inputSize: 16, hiddenSize: 256 }), batch: 64, hidden: 256, input: 16 },
  { name: 'RNN relu B37 H96 (row groups that do not divide B)', kind: 'relu', make: () => new RNN({ inputSize: 5, hiddenSize: 96, nonlinearity: 'relu' }), batch: 37, hidden: 96, input: 5 },
  { name: 'LSTM B64 H512', kind: 'lstm', make: () => new LSTM({ inputSize: 16, hiddenSize: 512 }), batch: 64, hidden: 512, input: 16 },
  {
    name: 'GRU B13 H128 2 layers bidirectional, packed',
    kind: 'gru',
    make: () => new GRU({ inputSize: 9, hiddenSize: 128, numLayers: 2, bidirectional: true }),
    batch: 13, hidden: 128, input: 9, steps: 7, lengths: [7, 3, 1, 7, 5, 2, 6, 4, 7, 1, 3, 6, 2],
  },
  { name: 'LSTM B1 H2048 (W_hh too large to stay on chip)', kind: 'lstm', make: () => new LSTM({ inputSize: 16, hiddenSize: 2048 }), batch: 1, hidden: 2048, input: 16 },
  { name: 'LSTM B64 H1024', kind: 'lstm', make: () => new LSTM({ inputSize: 16, hiddenSize: 1024 }), batch: 64, hidden: 1024, input: 16 },
  {
    name: 'LSTM B3 H300 projSize 100 (projections)',
    kind: 'lstm', make: () => new LSTM({ inputSize: 16, hiddenSize: 300, projSize: 100 }), batch: 3, hidden: 300, outSize: 100, input: 16,
  },
];

function pathOf(c: Case): string {
  return native.cudaStepPlan(0, KIND[c.kind], c.batch, c.hidden, c.outSize ?? c.hidden).path;
}

function inputFor(c: Case, x: Tensor): Tensor | PackedSequence {
  return c.lengths ? packPaddedSequence(x, c.lengths, { enforceSorted: false }) : x;
}

function outputTensor(out: Tensor | PackedSequence): Tensor {
  return out instanceof PackedSequence ? out.data : out;
}

function states(h: Tensor | [Tensor, Tensor]): Tensor[] {
  return Array.isArray(h) ? h : [h];
}

describe('cuda time loops', function () {
  before(function () {
    if (!cuda.isAvailable()) {
      console.log(`    CUDA time-loop tests skipped: ${whyUnavailable()}`);
      this.skip();
    }
  });

  it('each shape takes the loop its size calls for, and every loop agrees with the CPU (forward, relative error <= 1e-5)', () => {
    const taken: string[] = [];
    for (const c of CASES) {
      manualSeed(21);
      const m = c.make();
      const x = randn([c.steps ?? 6, c.batch, c.input]);
      const forward = (input: Tensor | PackedSequence) => (m as LSTM).forward(input as Tensor) as unknown as Output;
      const [out, h] = forward(inputFor(c, x));
      m.to('cuda');
      const [gOut, gH] = forward(inputFor(c, x.cuda()));
      const path = pathOf(c);
      taken.push(`${c.name}: ${path}`);
      const err = relativeError(outputTensor(gOut).cpu(), outputTensor(out));
      assert.ok(err <= 1e-5, `${c.name} (${path}): output relative error ${err.toExponential(2)}`);
      states(h).forEach((t, i) => {
        const e = relativeError(states(gH)[i].cpu(), t);
        assert.ok(e <= 1e-5, `${c.name} (${path}): state ${i} relative error ${e.toExponential(2)}`);
      });
      m.to('cpu');
    }
    console.log(`      loops: ${taken.join('; ')}`);
    const paths = new Set(taken.map((t) => t.slice(t.lastIndexOf(': ') + 2)));
    assert.ok(paths.has('gemm'), 'the cuBLAS loop ran (projections always take it)');
    if (process.env.NODE_RNN_CUDA_PERSISTENT !== '0') assert.ok(paths.has('persistent'), 'the persistent loop ran for some shape');
    if (process.env.NODE_RNN_CUDA_FUSED !== '0') assert.ok(paths.has('fused'), 'the fused loop ran for some shape');
  });

  it('recording forward and backward through the loop each shape takes: gradients equal the CPU ones within 1e-5', () => {
    const training = CASES.filter((c) => c.hidden <= 520 && c.batch <= 16);
    for (const c of training) {
      manualSeed(5);
      const m = c.make();
      const x = randn([c.steps ?? 6, c.batch, c.input]);
      const run = (input: Tensor): Tensor[] => {
        const [out] = (m as LSTM).forward(inputFor(c, input) as Tensor) as unknown as Output;
        const flat = outputTensor(out);
        manualSeed(6);
        const target = randn(flat.shape);
        mseLoss(flat.device === 'cpu' ? flat : flat.cpu(), target).backward();
        const grads = m.parameters().map((p) => (p.grad!.device === 'cpu' ? p.grad!.clone() : p.grad!.cpu()));
        (m as Module).zeroGrad();
        return grads;
      };
      const expected = run(x);
      m.to('cuda');
      const got = run(x.cuda());
      const path = pathOf(c);
      expected.forEach((g, i) => {
        const e = relativeError(got[i], g);
        assert.ok(e <= 1e-5, `${c.name} (${path}): gradient of parameter ${i} relative error ${e.toExponential(2)}`);
      });
      m.to('cpu');
    }
  });

  describe('the pipelined forward (unidirectional stacks of cuBLAS-loop layers, and single layers at B >= 64)', () => {
    interface Stack {
      name: string;
      kind: keyof typeof KIND;
      make: () => Recurrent;
      batch: number; hidden: number; outSize?: number; input: number; layers: number; steps: number;
      lengths?: number[];
      grads: boolean;  // also compare gradients (the recording forward is pipelined too)
    }
    const STACKS: Stack[] = [
      {
        name: 'LSTM 3 layers B32 H1024', kind: 'lstm', make: () => new LSTM({ inputSize: 32, hiddenSize: 1024, numLayers: 3 }),
        batch: 32, hidden: 1024, input: 32, layers: 3, steps: 12, grads: false,
      },
      {
        name: 'LSTM 2 layers B32 H96 projSize 48', kind: 'lstm', make: () => new LSTM({ inputSize: 8, hiddenSize: 96, projSize: 48, numLayers: 2 }),
        batch: 32, hidden: 96, outSize: 48, input: 8, layers: 2, steps: 13, grads: true,
      },
      {
        name: 'LSTM 5 layers B33 H64 projSize 40, packed (layers share streams)', kind: 'lstm',
        make: () => new LSTM({ inputSize: 6, hiddenSize: 64, projSize: 40, numLayers: 5 }),
        batch: 33, hidden: 64, outSize: 40, input: 6, layers: 5, steps: 11, grads: true,
        lengths: Array.from({ length: 33 }, (_, i) => 11 - (i % 11)),
      },
      {
        name: 'LSTM 1 layer B64 H128 projSize 64', kind: 'lstm', make: () => new LSTM({ inputSize: 16, hiddenSize: 128, projSize: 64 }),
        batch: 64, hidden: 128, outSize: 64, input: 16, layers: 1, steps: 17, grads: true,
      },
    ];
    for (const c of STACKS) {
      it(`${c.name}: forward${c.grads ? ' and gradients' : ''} equal the CPU's within 1e-5`, () => {
        const plan = native.cudaStepPlan(0, KIND[c.kind], c.batch, c.hidden, c.outSize ?? c.hidden, c.layers, c.steps);
        if (process.env.NODE_RNN_CUDA_PIPELINE !== '0') assert.equal(plan.pipelined, true, `${c.name} takes the pipelined forward`);
        else assert.equal(plan.pipelined, false);
        manualSeed(31);
        const m = c.make();
        const x = randn([c.steps, c.batch, c.input]);
        const input = (t: Tensor) => (c.lengths ? packPaddedSequence(t, c.lengths, { enforceSorted: false }) : t);
        const run = (t: Tensor): [Tensor, Tensor[], Tensor[]] => {
          const [out, h] = (m as LSTM).forward(input(t) as Tensor) as unknown as Output;
          const flat = outputTensor(out);
          const hs = states(h).map((v) => (v.device === 'cpu' ? v : v.cpu()));
          if (!c.grads) return [flat.device === 'cpu' ? flat : flat.cpu(), hs, []];
          manualSeed(32);
          const target = randn(flat.shape);
          mseLoss(flat.device === 'cpu' ? flat : flat.cpu(), target).backward();
          const grads = m.parameters().map((p) => (p.grad!.device === 'cpu' ? p.grad!.clone() : p.grad!.cpu()));
          (m as Module).zeroGrad();
          return [flat.device === 'cpu' ? flat.detach() : flat.detach().cpu(), hs, grads];
        };
        const [out, hs, grads] = run(x);
        m.to('cuda');
        const [gOut, gHs, gGrads] = run(x.cuda());
        m.to('cpu');
        const err = relativeError(gOut, out);
        assert.ok(err <= 1e-5, `${c.name}: output relative error ${err.toExponential(2)}`);
        hs.forEach((t, i) => assert.ok(relativeError(gHs[i], t) <= 1e-5, `${c.name}: state ${i}`));
        grads.forEach((g, i) => {
          const e = relativeError(gGrads[i], g);
          assert.ok(e <= 1e-5, `${c.name}: gradient of parameter ${i} relative error ${e.toExponential(2)}`);
        });
      });
    }
  });

  it('cudaStepPlan checks its arguments', () => {
    assert.throws(() => native.cudaStepPlan(0, 4, 1, 8, 8), /^RangeError: kind must be 0\.\.3$/);
    assert.throws(() => native.cudaStepPlan(0, 2, 0, 8, 8), /^RangeError: batch, hidden and outSize must be positive/);
    assert.throws(() => native.cudaStepPlan(0, 2, 1, 8, 9), /outSize <= hidden/);
    assert.throws(() => native.cudaStepPlan(99, 2, 1, 8, 8), /^RangeError: CUDA device 99 requested/);
    assert.throws(() => native.cudaStepPlan(0, 2, 1, 8, 8, 0, 5), /^RangeError: layers and steps must be positive$/);
  });
});
