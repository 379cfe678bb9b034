// Properties of quantizeDynamic and the modules it makes: random modules (alone or inside containers, weights
// sometimes non-finite) with random options, then the quantized modules called with good and bad inputs (sync and
// async, requiring grad or not, other dtypes). Valid calls must return the float32 module's results within int8's
// error; everything else must be refused with an error of its own.
import fc from 'fast-check';
import {
  Embedding, GRU, GRUCell, LSTM, LSTMCell, Linear, Module, RNN, RNNCell, Sequential, Tensor, noGrad, quantizeDynamic,
  serializeQuantized, loadQuantized, tensor,
} from '../../lib/index';
import { junk, tensorCase } from './arbitraries';
import { sameShapeAs, settle, settleAsync, show } from './harness';
import { buildModule, fill, moduleSpec, twist } from './modules';

const CLASSES = [RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, Linear] as const;

/** int8's error bound for these small modules (inputs and states in [-3, 3]): per element and on average. */
function closeToInt8(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  let err = 0, size = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= 0.2 * (1 + Math.abs(expected[i])))) throw new Error(`${what}[${i}] = ${actual[i]}, float32 gives ${expected[i]}`);
    err += d;
    size += Math.abs(expected[i]);
  }
  if (actual.length > 0 && !(err / actual.length <= 0.03 * (1 + size / actual.length))) {
    throw new Error(`${what}: mean absolute error ${err / actual.length} against float32`);
  }
}

const optionsArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.record({ dtype: fc.constantFrom<unknown>('int8', undefined) }, { requiredKeys: [] }) },
  { weight: 3, arbitrary: fc.record({ modules: fc.subarray([...CLASSES] as unknown[]) }) },
  { weight: 1, arbitrary: fc.record({ dtype: fc.oneof(junk, fc.constantFrom('float16', 'qint8', 'INT8')) }) },
  { weight: 1, arbitrary: fc.record({ modules: fc.oneof(junk, fc.array(fc.oneof(junk, fc.constant<unknown>(Embedding), fc.constant<unknown>(Sequential)), { minLength: 1, maxLength: 2 })) }) },
  { weight: 1, arbitrary: fc.oneof(junk, fc.record({ dtyp: fc.constant('int8') })) },
);

function optionsValid(o: unknown): o is { dtype?: 'int8'; modules?: unknown[] } | undefined {
  if (o === undefined) return true;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return false;
  const r = o as Record<string, unknown>;
  if (Object.keys(r).some((k) => k !== 'dtype' && k !== 'modules')) return false;
  if (r.dtype !== undefined && r.dtype !== 'int8') return false;
  return r.modules === undefined || (Array.isArray(r.modules) && r.modules.every((c) => (CLASSES as readonly unknown[]).includes(c)));
}

const quantizeCase = fc.record({
  kind: fc.constantFrom('recurrent', 'cell', 'linear', 'sequential', 'junk'), spec: moduleSpec, options: optionsArb,
  nonFinite: fc.oneof({ weight: 10, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }), seed: fc.nat(),
  roundTrip: fc.boolean(),
});

export const quantizeDynamicProperty = fc.property(quantizeCase, (c) => {
  const { module: recurrent } = buildModule(c.spec);
  const cellKind = c.spec.mode === 'LSTM' ? LSTMCell : c.spec.mode === 'GRU' ? GRUCell : RNNCell;
  const inner: Module = c.kind === 'cell' ? new cellKind({ inputSize: c.spec.inputSize, hiddenSize: c.spec.hiddenSize, bias: c.spec.bias })
    : c.kind === 'linear' ? new Linear({ inFeatures: c.spec.inputSize, outFeatures: c.spec.hiddenSize, bias: c.spec.bias }) : recurrent;
  const module: unknown = c.kind === 'junk' ? [inner, {}, 'module', null][c.seed % 4]
    : c.kind === 'sequential' ? new Sequential(new Linear({ inFeatures: 2, outFeatures: 3 }), inner) : inner;
  const params = inner.parameters();
  if (c.nonFinite) params[c.seed % params.length].data[0] = [NaN, Infinity, -Infinity][c.seed % 3];
  const before = params.map((p) => p.data.slice());
  const r = settle(`quantizeDynamic(${c.kind}, ${show(c.options)})`, () => quantizeDynamic(module as Module, c.options as never));
  const classes = optionsValid(c.options) ? (c.options?.modules ?? CLASSES) : [];
  // a non-finite weight is refused only where it would be quantized
  const quantizes = classes.includes(inner.constructor as never);
  const valid = module instanceof Module && optionsValid(c.options) && !(c.nonFinite && quantizes);
  if (r.ok !== valid) throw new Error(`quantizeDynamic ${r.ok ? 'accepted' : `refused (${(r as { error: Error }).error.message})`} a ${valid ? 'valid' : 'invalid'} call`);
  params.forEach((p, i) => {
    if (p.data.some((v, j) => !Object.is(v, before[i][j]))) throw new Error('quantizeDynamic changed the original');
  });
  if (!r.ok) return;
  const q = r.value;
  if (q.constructor !== (module as Module).constructor || q === module) throw new Error('not a new module of the same class');
  if (q.parameters().some((p) => p.requiresGrad)) throw new Error('a parameter of the copy requires grad');
  const floatParams = q.namedParameters().length;
  const expectedFloat = (module as Module).namedModules().filter(([, m]) => !classes.includes(m.constructor as never))
    .reduce((n, [, m]) => n + m.namedParameters().filter(([k]) => !k.includes('.')).length, 0);
  if (floatParams !== expectedFloat) throw new Error(`${floatParams} float parameters kept, expected ${expectedFloat}`);
  if (c.roundTrip && floatParams < (module as Module).namedParameters().length) {
    const bytes = serializeQuantized(q);
    const again = quantizeDynamic(module as Module, c.options as never);
    loadQuantized(again, bytes);
    if (!serializeQuantized(again).equals(bytes)) throw new Error('a saved module loads back differently');
  }
});

const callCase = fc.record({
  kind: fc.constantFrom('recurrent', 'recurrent', 'cell', 'linear'), spec: moduleSpec, T: fc.integer({ min: 0, max: 4 }),
  B: fc.integer({ min: 0, max: 3 }), batched: fc.boolean(), featureDelta: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1) }),
  input: tensorCase(), withState: fc.boolean(), stateCase: tensorCase(20), requiresGrad: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  bfloat16: fc.oneof({ weight: 10, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  gradMode: fc.boolean(), special: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  async: fc.boolean(), seed: fc.nat(),
});

type Forward = (x: unknown, h?: unknown) => unknown;

/**
 * Calls with good and bad inputs of the inference-only modules `make` builds from a float32 module (quantizeDynamic,
 * optimizeForInference): valid calls return results `close` accepts against the float32 module's, the rest are
 * refused.
 */
/**
 * Calls of the module `make` returns, against the float module's results (`close`); with `bfloat16` the made module
 * computes in bfloat16: it also takes bfloat16 inputs, and the reference is the module converted by .bfloat16().
 */
export const inferenceCallProperty = (
  what: string, make: (m: Module) => Module, close: (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => void,
  kinds: readonly string[] = ['recurrent', 'cell', 'linear'], bfloat16 = false,
) => fc.asyncProperty(callCase.filter((c) => kinds.includes(c.kind)), async (c) => {
  const { module: recurrent, ref } = buildModule(c.spec);
  recurrent.eval();
  const I = c.spec.inputSize, H = c.spec.hiddenSize;
  const cellKind = c.spec.mode === 'LSTM' ? LSTMCell : c.spec.mode === 'GRU' ? GRUCell : RNNCell;
  const module: Module = c.kind === 'cell' ? new cellKind({ inputSize: I, hiddenSize: H, bias: c.spec.bias })
    : c.kind === 'linear' ? new Linear({ inFeatures: I, outFeatures: H, bias: c.spec.bias }) : recurrent;
  const q = make(module);
  if (bfloat16) module.bfloat16(); // the reference, converted after make took its snapshot
  const lstm = c.spec.mode === 'LSTM' && c.kind !== 'linear';
  const Ix = I + c.featureDelta;
  // the input: recurrent [T, B, I] / [B, T, I] / [T, I]; cell [B, I] / [I]; linear [T, B, I] / [B, I]
  const shape = c.kind === 'recurrent' ? (c.batched ? (c.spec.batchFirst ? [c.B, c.T, Ix] : [c.T, c.B, Ix]) : [c.T, Ix])
    : c.kind === 'cell' ? (c.batched ? [c.B, Ix] : [Ix]) : c.batched ? [c.T, c.B, Ix] : [c.B, Ix];
  let x = tensor(fill(shape.reduce((a, b) => a * b, 1), c.seed, c.special), shape);
  if (c.requiresGrad) x.requiresGrad = true;
  if (c.bfloat16) x = x.detach().bfloat16() as unknown as Tensor;
  const L = c.kind === 'recurrent' ? ref.numLayers * (ref.bidirectional ? 2 : 1) : 1;
  const P = c.kind === 'recurrent' && ref.projSize ? ref.projSize : H;
  const Bs = c.kind === 'cell' ? (c.batched ? c.B : 1) : c.batched ? c.B : 1;
  const stateShape = (n: number) => (c.kind === 'cell' ? (c.batched ? [c.B, n] : [n]) : c.batched ? [L, Bs, n] : [L, n]);
  // states in the input's dtype (a bfloat16 module refuses bfloat16 inputs with float32 states, as PyTorch does)
  const asInput = (t: Tensor) => (bfloat16 && c.bfloat16 ? t.bfloat16() as unknown as Tensor : t);
  const h0 = asInput(tensor(fill(stateShape(P).reduce((a, b) => a * b, 1), c.seed + 1, false), stateShape(P)));
  const c0 = asInput(tensor(fill(stateShape(H).reduce((a, b) => a * b, 1), c.seed + 2, false), stateShape(H)));
  const hx = c.kind === 'linear' || !c.withState ? undefined
    : lstm ? [h0, twist(c.stateCase, c0, c.seed)] : twist(c.stateCase, h0, c.seed);
  const input = twist(c.input, x, c.seed);
  const fwd = ((c.async && c.kind !== 'linear' ? (q as LSTM).forwardAsync : (q as LSTM).forward) as Forward).bind(q);
  const run = () => (c.gradMode ? fwd(input, hx) : noGrad(() => fwd(input, hx)));
  const r = c.async ? await settleAsync(`${what} forwardAsync`, async () => run()) : settle(`${what} forward`, run);
  const stateOk = !c.withState || c.kind === 'linear' || c.stateCase === 'good';
  // a Linear takes any rank (the extra leading dims of 'wrongRank' are batch dims to it)
  const valid = (c.input === 'good' || (c.kind === 'linear' && c.input === 'wrongRank')) && c.featureDelta === 0 && stateOk && (bfloat16 || !c.bfloat16) && !(c.requiresGrad && c.gradMode) &&
    (c.kind !== 'recurrent' || c.T > 0);
  if (r.ok !== valid) throw new Error(`${r.ok ? 'accepted an invalid' : `refused a valid (${(r as { error: Error }).error.message})`} call of a ${what} ${module.constructor.name}`);
  if (!r.ok) return;
  const flat = (v: unknown): Tensor[] => (v instanceof Tensor ? [v] : (v as unknown[]).flatMap(flat));
  const ours = flat(r.value);
  const floatFwd = (module as LSTM).forward.bind(module) as Forward;
  const want = flat(noGrad(() => floatFwd(c.requiresGrad ? (input as Tensor).detach() : input, hx)));
  if (ours.length !== want.length) throw new Error(`${ours.length} results, expected ${want.length}`);
  ours.forEach((t, i) => {
    sameShapeAs(t.shape, want[i].shape, `result ${i}`);
    if (t.dtype !== want[i].dtype || t.requiresGrad) throw new Error(`result ${i} is ${t.dtype}${t.requiresGrad ? ' and requires grad' : ''}`);
    if (!c.special) close(t.data, want[i].data, `result ${i}`);
  });
});

export const quantizedCallProperty = inferenceCallProperty('quantized', (m) => quantizeDynamic(m), closeToInt8);
