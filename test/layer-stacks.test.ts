// A unidirectional stack at batch 1 on two threads runs its layers at once, one thread a layer (int8, bfloat16;
// float32 LSTM and GRU; native/cpu/layer_stack.h), where a layer's weights fit a core's L2: layer l + 1 projects its
// input a few steps at a time, as layer l writes its output rows. It must give the bits the layers give one after another on one thread, every layer's h_n / c_n in its
// place (also where the results are float32 and the states live apart: a bfloat16 module called with float32),
// near the float64 reference; cpuKernels().layerStacks says which calls took that path.
import { strict as assert } from 'node:assert';
import { GRU, LSTM, Module, RNN, Tensor, getNumThreads, manualSeed, noGrad, optimizeForInference, quantizeDynamic, randn, setNumThreads } from '../lib/index';
import { Mat3, paramsOf, refLayers } from './helpers/reference';
import { sameBits } from './helpers/same-bits';
import { native } from '../lib/binding';

type Stack = LSTM | GRU | RNN;
type Kind = 'LSTM' | 'GRU' | 'RNN_TANH' | 'RNN_RELU';

interface Case {
  name: string;
  kind: Kind;
  make: () => Stack;
  T: number;
  batchFirst?: boolean;
}

const I = 24;
const cases: Case[] = [
  { name: 'LSTM 2 layers H 208', kind: 'LSTM', make: () => new LSTM({ inputSize: I, hiddenSize: 208, numLayers: 2 }), T: 17 },
  { name: 'LSTM 3 layers H 96 projSize 64', kind: 'LSTM', make: () => new LSTM({ inputSize: I, hiddenSize: 96, numLayers: 3, projSize: 64 }), T: 13 },
  { name: 'LSTM 2 layers H 64 batchFirst', kind: 'LSTM', make: () => new LSTM({ inputSize: I, hiddenSize: 64, numLayers: 2, batchFirst: true }), T: 12, batchFirst: true },
  { name: 'GRU 2 layers H 200', kind: 'GRU', make: () => new GRU({ inputSize: I, hiddenSize: 200, numLayers: 2 }), T: 17 },
  { name: 'GRU 4 layers H 64 (7 steps: a chunk and one)', kind: 'GRU', make: () => new GRU({ inputSize: I, hiddenSize: 64, numLayers: 4 }), T: 7 },
  { name: 'RNN tanh 3 layers H 128 (6 steps: one chunk)', kind: 'RNN_TANH', make: () => new RNN({ inputSize: I, hiddenSize: 128, numLayers: 3 }), T: 6 },
  { name: 'RNN relu 2 layers H 128, no bias', kind: 'RNN_RELU', make: () => new RNN({ inputSize: I, hiddenSize: 128, numLayers: 2, nonlinearity: 'relu', bias: false }), T: 5 },
];

const stacksSoFar = (): number => native.cpuKernels().layerStacks;

/** Output, then every state tensor, of a forward's result. */
function results(r: unknown): Tensor[] {
  const [out, h] = r as [Tensor, Tensor | Tensor[]];
  return [out, ...(Array.isArray(h) ? h : [h])];
}

/** max |a - b| / max |b| over the elements. */
function relativeMaxError(ours: Tensor, ref: number[]): number {
  const o = ours.float().data as Float32Array;
  assert.equal(o.length, ref.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < o.length; ++i) {
    worst = Math.max(worst, Number.isFinite(o[i]) ? Math.abs(o[i] - ref[i]) : Infinity);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return worst / scale;
}

describe('layer stacks at batch 1: the layers at once, one thread each', function () {
  this.timeout(60000);
  const before = getNumThreads();
  after(() => setNumThreads(before));

  // [name, the module as it runs, whether its input is bfloat16, bytes a weight]
  const precisions: [string, (m: Stack) => Stack, boolean, number][] = [
    ['int8', (m) => quantizeDynamic(m as unknown as Module) as unknown as Stack, false, 1],
    ['bfloat16', (m) => m.bfloat16() as Stack, true, 2],
    ['bfloat16 on float32 input', (m) => m.bfloat16() as Stack, false, 2],
    ['bfloat16 packed once', (m) => optimizeForInference(m as unknown as Module, { dtype: 'bfloat16' }) as unknown as Stack, true, 2],
    ['float32', (m) => m, false, 4],
    ['float32 packed once', (m) => optimizeForInference(m as unknown as Module) as unknown as Stack, false, 4],
  ];
  // Which stacks run at once (layer_stack.h): a layer's W_ih and W_hh within 1 MB; float32 for LSTM and GRU only.
  // Below AVX-512 float32's input projection is OpenBLAS's sgemm, whose sums depend on the rows it is given (the
  // stack projects 6 rows at a time), so there the results agree to rounding.
  const stacked = (c: Case, float: Stack, bytes: number): boolean => {
    const G = c.kind === 'LSTM' ? 4 : c.kind === 'GRU' ? 3 : 1;
    const P = (float as LSTM).projSize || float.hiddenSize;
    const fits = bytes * G * float.hiddenSize * (Math.max(I, P) + P) <= 1 << 20;
    return bytes === 4 ? fits && G > 1 : fits;
  };
  const sameBitsHere = (bytes: number): boolean => bytes < 4 || native.cpuKernels().level === 'avx512';
  for (const [precision, convert, half, bytes] of precisions) {
    for (const c of cases) {
      for (const withState of [false, true]) {
        it(`${precision} ${c.name}${withState ? ', with h0' : ''}: the bits of the layers one after another, near float64`, () => {
          manualSeed(41);
          const float = c.make();
          const params = paramsOf(float as unknown as Module);  // (before bfloat16(), which converts in place)
          const module = convert(float);
          const L = float.numLayers, P = (float as LSTM).projSize || float.hiddenSize, H = float.hiddenSize;
          // (a bfloat16 input takes bfloat16 states, as in PyTorch; the reference gets the same rounded values)
          const asCalled = (t: Tensor): Tensor => (half ? (t.bfloat16() as unknown as Tensor) : t);
          const x = asCalled(randn(c.batchFirst ? [1, c.T, I] : [c.T, 1, I]));
          const h0 = withState ? asCalled(randn([L, 1, P])) : null;
          const c0 = withState && c.kind === 'LSTM' ? asCalled(randn([L, 1, H])) : null;
          const forward = (threads: number): Tensor[] => {
            setNumThreads(threads);
            const state = c0 ? [h0!, c0] : h0 ?? undefined;
            return results(noGrad(() => (module as LSTM).forward(x, state as [Tensor, Tensor])));
          };
          const one = forward(1);
          const stacks = stacksSoFar();
          const two = forward(2);
          const atOnce = stacked(c, float, bytes);
          assert.equal(stacksSoFar(), stacks + (atOnce ? 1 : 0), atOnce ? 'the 2-thread call ran the layers at once' : 'layer by layer');
          if (sameBitsHere(bytes)) sameBits(two, one, '2 threads against 1');
          else two.forEach((t, i) => assert.ok(relativeMaxError(t, Array.from(one[i].data as Float32Array)) <= 1e-6, `result ${i}`));
          const values = (t: Tensor): Mat3 => t.float().toArray() as Mat3;
          const xs = values(c.batchFirst ? x.transpose(0, 1) : x);
          const ref = refLayers({ kind: c.kind, hiddenSize: H, numLayers: L, bidirectional: false, projSize: P === H ? 0 : P },
            params, xs, h0 ? values(h0) : null, c0 ? values(c0) : null);
          const refOut = (c.batchFirst ? ref.output[0].map((_, b) => ref.output.map((row) => row[b])) : ref.output).flat(2);
          const err = relativeMaxError(one[0], refOut);
          assert.ok(err <= 5e-2, `output: max |ours - float64| / max |float64| = ${err}`);
          const hErr = relativeMaxError(one[1], ref.hN.flat(2));
          assert.ok(hErr <= 5e-2, `h_n: ${hErr}`);
          if (ref.cN) assert.ok(relativeMaxError(one[2], ref.cN.flat(2)) <= 5e-2, 'c_n');
        });
      }
    }
  }

  describe('bidirectional layers at batch 1: the two directions at once, one thread each', () => {
    const pairs = (): number => native.cpuKernels().directionPairs;
    // [name, kind, module, T, precision, whether its directions run at once]
    const bidirCases: [string, Kind, () => Stack, number, 'float32' | 'int8' | 'bfloat16', boolean][] = [
      ['LSTM H 128', 'LSTM', () => new LSTM({ inputSize: I, hiddenSize: 128, bidirectional: true }), 17, 'float32', true],
      ['LSTM H 128', 'LSTM', () => new LSTM({ inputSize: I, hiddenSize: 128, bidirectional: true }), 17, 'int8', true],
      ['LSTM 2 layers H 96 projSize 48', 'LSTM', () => new LSTM({ inputSize: I, hiddenSize: 96, numLayers: 2, projSize: 48, bidirectional: true }), 9, 'int8', true],
      ['GRU 2 layers H 96', 'GRU', () => new GRU({ inputSize: I, hiddenSize: 96, numLayers: 2, bidirectional: true }), 13, 'float32', true],
      ['RNN tanh H 256 (OpenBLAS per direction)', 'RNN_TANH', () => new RNN({ inputSize: I, hiddenSize: 256, bidirectional: true }), 11, 'float32', true],
      ['RNN relu 2 layers H 128', 'RNN_RELU', () => new RNN({ inputSize: I, hiddenSize: 128, numLayers: 2, nonlinearity: 'relu', bidirectional: true }), 7, 'int8', true],
      ['LSTM H 128 (bfloat16: layer by layer)', 'LSTM', () => new LSTM({ inputSize: I, hiddenSize: 128, bidirectional: true }), 9, 'bfloat16', false],
    ];
    for (const [name, kind, make, T, precision, paired] of bidirCases) {
      it(`${precision} ${name}, with h0: ${paired ? 'directions at once, ' : ''}the bits of one thread, near float64`, () => {
        manualSeed(45);
        const float = make();
        const params = paramsOf(float as unknown as Module);
        const module = precision === 'int8' ? (quantizeDynamic(float as unknown as Module) as unknown as Stack)
          : precision === 'bfloat16' ? (float.bfloat16() as Stack) : float;
        const L = float.numLayers, H = float.hiddenSize, P = (float as LSTM).projSize || H;
        const half = precision === 'bfloat16';
        const asCalled = (t: Tensor): Tensor => (half ? (t.bfloat16() as unknown as Tensor) : t);
        const x = asCalled(randn([T, 1, I]));
        const h0 = asCalled(randn([2 * L, 1, P]));
        const c0 = kind === 'LSTM' ? asCalled(randn([2 * L, 1, H])) : null;
        const forward = (threads: number): Tensor[] => {
          setNumThreads(threads);
          return results(noGrad(() => (module as LSTM).forward(x, (c0 ? [h0, c0] : h0) as [Tensor, Tensor])));
        };
        const one = forward(1);
        const before = pairs();
        const two = forward(2);
        assert.equal(pairs(), before + (paired ? L : 0), paired ? 'every layer ran its directions at once' : 'layer by layer');
        sameBits(two, one, '2 threads against 1');
        const values = (t: Tensor): Mat3 => t.float().toArray() as Mat3;
        const ref = refLayers({ kind, hiddenSize: H, numLayers: L, bidirectional: true, projSize: P === H ? 0 : P },
          params, values(x), values(h0), c0 ? values(c0) : null);
        assert.ok(relativeMaxError(one[0], ref.output.flat(2)) <= 5e-2, 'output');
        assert.ok(relativeMaxError(one[1], ref.hN.flat(2)) <= 5e-2, 'h_n');
        if (ref.cN) assert.ok(relativeMaxError(one[2], ref.cN.flat(2)) <= 5e-2, 'c_n');
      });
    }
  });

  it('int8 forwardAsync runs the layers at once too, with the same bits', async () => {
    manualSeed(43);
    const module = quantizeDynamic(new LSTM({ inputSize: I, hiddenSize: 128, numLayers: 3 }) as unknown as Module) as unknown as LSTM;
    const x = randn([20, 1, I]);
    setNumThreads(1);
    const one = results(noGrad(() => module.forward(x)));
    setNumThreads(2);
    const stacks = stacksSoFar();
    const two = results(await module.forwardAsync(x));
    assert.equal(stacksSoFar(), stacks + 1);
    sameBits(two, one, 'forwardAsync on 2 threads against forward on 1');
  });

  it('runs layer by layer where neither applies: batch > 1, one thread, weights past the L2, recording for backward', () => {
    manualSeed(44);
    const bidir = quantizeDynamic(new LSTM({ inputSize: I, hiddenSize: 128, numLayers: 2, bidirectional: true }) as unknown as Module) as unknown as LSTM;
    const uni = quantizeDynamic(new GRU({ inputSize: I, hiddenSize: 128, numLayers: 2 }) as unknown as Module) as unknown as GRU;
    const large = new LSTM({ inputSize: 256, hiddenSize: 256, numLayers: 2 });  // float32: 2 MB a layer
    const trained = new GRU({ inputSize: I, hiddenSize: 64, numLayers: 2, bidirectional: true });
    const stacks = stacksSoFar(), pairs = native.cpuKernels().directionPairs;
    setNumThreads(2);
    noGrad(() => bidir.forward(randn([9, 2, I])));
    noGrad(() => uni.forward(randn([9, 3, I])));
    noGrad(() => large.forward(randn([9, 1, 256])));
    const [out] = trained.forward(randn([9, 1, I]));  // saves for backward
    out.sum().backward();
    setNumThreads(1);
    noGrad(() => uni.forward(randn([9, 1, I])));
    noGrad(() => bidir.forward(randn([9, 1, I])));
    assert.equal(stacksSoFar(), stacks);
    assert.equal(native.cpuKernels().directionPairs, pairs);
  });
});
