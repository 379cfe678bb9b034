// Stacks at batch 1, where two threads run the layers (unidirectional) or a layer's directions (bidirectional) at
// once (native/cpu/layer_stack.h): random kinds, precisions (float32, packed once, bfloat16, int8), depths,
// directions, sizes around the L2 bound, sequence lengths around the 6-step chunk, projections, layouts, starting
// states and calls (forward, forwardAsync). The results on two threads must be finite and the bits of one thread
// (float32 below AVX-512, and its Elman RNN, which OpenBLAS runs: to 1e-6), and close to the float32 module's.
import fc from 'fast-check';
import {
  GRU, LSTM, Module, RNN, Tensor, getNumThreads, noGrad, optimizeForInference, quantizeDynamic, setNumThreads, tensor,
} from '../../lib/index';
import { native } from '../../lib/binding';
import { fill } from './modules';

export const layerStackCase = fc.record({
  kind: fc.constantFrom('LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU'),
  precision: fc.constantFrom('float32', 'float32 packed once', 'bfloat16', 'int8'),
  I: fc.integer({ min: 1, max: 64 }), H: fc.integer({ min: 32, max: 200 }), proj: fc.integer({ min: 0, max: 60 }),
  layers: fc.integer({ min: 1, max: 4 }), bidirectional: fc.boolean(), batchFirst: fc.boolean(), unbatched: fc.boolean(), bias: fc.boolean(),
  T: fc.integer({ min: 1, max: 20 }), withState: fc.boolean(), viaAsync: fc.boolean(), seed: fc.nat(),
});
export type LayerStackCase = typeof layerStackCase extends fc.Arbitrary<infer T> ? T : never;

type Recurrent = LSTM | GRU | RNN;
type Result = [Tensor, Tensor | [Tensor, Tensor]];

function build(c: LayerStackCase): Recurrent {
  const base = { inputSize: c.I, hiddenSize: c.H, numLayers: c.layers, bidirectional: c.bidirectional, batchFirst: c.batchFirst, bias: c.bias };
  if (c.kind === 'LSTM') return new LSTM({ ...base, projSize: c.proj < c.H && c.proj % 4 === 0 ? c.proj : 0 });
  if (c.kind === 'GRU') return new GRU(base);
  return new RNN({ ...base, nonlinearity: c.kind === 'RNN_TANH' ? 'tanh' : 'relu' });
}

function flat(r: Result): Float32Array[] {
  const [out, state] = r;
  return [out, ...(Array.isArray(state) ? state : [state])].map((t) => (t.dtype === 'float32' ? t : t.to('float32')).data as Float32Array);
}

export const layerStackProperty = fc.asyncProperty(layerStackCase, async (c) => {
  const float = build(c);
  float.eval();
  const module: Module = c.precision === 'int8' ? quantizeDynamic(float)
    : c.precision === 'bfloat16' ? copyBf16(c, float)
      : c.precision === 'float32 packed once' ? optimizeForInference(float) : float;
  const P = float instanceof LSTM && float.projSize ? float.projSize : c.H;
  const shape = c.unbatched ? [c.T, c.I] : c.batchFirst ? [1, c.T, c.I] : [c.T, 1, c.I];
  const x = tensor(fill(c.T * c.I, c.seed, false), shape);
  const LD = c.layers * (c.bidirectional ? 2 : 1);
  const stateShape = (n: number) => (c.unbatched ? [LD, n] : [LD, 1, n]);
  const h0 = tensor(fill(LD * P, c.seed + 1, false), stateShape(P));
  const c0 = tensor(fill(LD * c.H, c.seed + 2, false), stateShape(c.H));
  const state = c.withState ? (float instanceof LSTM ? [h0, c0] : h0) : undefined;
  type Callable = { forward(x: unknown, h?: unknown): Result; forwardAsync(x: unknown, h?: unknown): Promise<Result> };
  const ref = flat(noGrad(() => (float as unknown as Callable).forward(x, state)));
  const before = getNumThreads();
  try {
    setNumThreads(1);
    const one = flat(noGrad(() => (module as unknown as Callable).forward(x, state)));
    setNumThreads(2);
    const { layerStacks, directionPairs } = native.cpuKernels();
    const two = flat(c.viaAsync ? await (module as unknown as Callable).forwardAsync(x, state) : noGrad(() => (module as unknown as Callable).forward(x, state)));
    const ran = native.cpuKernels().layerStacks - layerStacks, paired = native.cpuKernels().directionPairs - directionPairs;
    if (ran !== 0 && (ran !== 1 || c.bidirectional || c.layers < 2)) throw new Error(`${ran} stacks for one call`);
    if (paired !== 0 && (paired !== c.layers || !c.bidirectional)) throw new Error(`${paired} direction pairs for ${c.layers} layers`);
    // (float32's Elman RNN splits its units over OpenBLAS calls, whose sums depend on the width, at every level)
    const packedCell = c.kind === 'LSTM' || c.kind === 'GRU';
    const exact = c.precision === 'bfloat16' || c.precision === 'int8' || (packedCell && native.cpuKernels().level === 'avx512');
    two.forEach((t, i) => {
      if (t.length !== one[i].length || t.length !== ref[i].length) throw new Error(`result ${i}: ${t.length} values`);
      for (let j = 0; j < t.length; j++) {
        if (!Number.isFinite(t[j])) throw new Error(`result ${i}[${j}] = ${t[j]}`);
        const d = Math.abs(t[j] - one[i][j]);
        if (exact ? !Object.is(t[j], one[i][j]) : d > 1e-6 * (1 + Math.abs(one[i][j]))) {
          throw new Error(`result ${i}[${j}]: 2 threads give ${t[j]}, 1 thread ${one[i][j]} (${ran ? 'layers at once' : paired ? 'directions at once' : 'layer by layer'})`);
        }
        // bfloat16 and int8 stay near float32 (loosely: these are random weights and inputs, errors compound)
        if (Math.abs(t[j] - ref[i][j]) > (c.precision.startsWith('float32') ? 1e-5 : 0.25)) {
          throw new Error(`result ${i}[${j}]: ${t[j]} against float32 ${ref[i][j]}`);
        }
      }
    });
  } finally {
    setNumThreads(before);
  }
});

/** The float module's weights in a bfloat16 module (inputs and states stay float32: a bfloat16 module takes them). */
function copyBf16(c: LayerStackCase, float: Recurrent): Module {
  const m = build(c);
  m.loadStateDict(float.stateDict());
  m.eval();
  return m.bfloat16();
}
