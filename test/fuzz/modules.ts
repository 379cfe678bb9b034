// Properties of the recurrent modules and cells: options, forward (sync and async) on good and bad inputs,
// packed sequences, and loadStateDict. Valid calls are checked against the float64 reference.
import fc from 'fast-check';
import {
  GRU, GRUCell, LSTM, LSTMCell, Module, PackedSequence, RNN, RNNCell, Tensor, getMemoryLimit, packPaddedSequence,
  padPackedSequence, tensor, zeros,
} from '../../lib/index';
import { Mode, Params, RefModule, runSequence, step } from './reference';
import { TensorCase, boolOption, junk, lcg, sizeOption, tensorCase } from './arbitraries';
import { closeTo, sameShapeAs, settle, settleAsync, show } from './harness';

type Recurrent = RNN | LSTM | GRU;
type Cell = RNNCell | LSTMCell | GRUCell;
const TOL = 1e-4;

function paramsOf(module: Module): Params {
  return Object.fromEntries(module.namedParameters().map(([name, p]) => [name, p.data]));
}

/** Values for `n` elements from `seed`, in [-3, 3], with one NaN/Infinity when `special`. */
export function fill(n: number, seed: number, special: boolean): Float32Array {
  const next = lcg(seed);
  const out = Float32Array.from({ length: n }, () => 3 * next());
  if (special && n > 0) out[Math.floor(((next() + 1) / 2) * n) % n] = [NaN, Infinity, -Infinity][seed % 3];
  return out;
}

/** The bad variants of a good tensor argument; `good` itself for 'good'. */
export function twist(kind: TensorCase, good: Tensor, seed: number): unknown {
  switch (kind) {
    case 'good': return good;
    case 'disposed': { const t = good.clone(); t.dispose(); return t; }
    case 'int64': return zeros(good.shape.slice(), { dtype: 'int64' });
    case 'wrongShape': return zeros(good.ndim === 0 ? [2] : [...good.shape.slice(0, -1), good.shape[good.ndim - 1] + 2]); // +2: a featureDelta of -1 cannot cancel it
    case 'wrongRank': return good.reshape([1, 1, ...good.shape]); // one extra dim could be a valid batch of 1
    case 'array': return good.toArray();
    default: return ['tensor', 3, {}, NaN, [good], true][seed % 6];
  }
}

// ---------------------------------------------------------------------------------------------------------
// options

const MODULE_KINDS = ['RNN', 'LSTM', 'GRU', 'RNNCell', 'LSTMCell', 'GRUCell'] as const;
type ModuleKind = (typeof MODULE_KINDS)[number];
const CTORS: Record<ModuleKind, new (o: never) => Module> = { RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell };

const validOptionsArb = fc.record({
  inputSize: fc.integer({ min: 1, max: 6 }), hiddenSize: fc.integer({ min: 1, max: 6 }), numLayers: fc.integer({ min: 1, max: 3 }),
  bias: fc.boolean(), batchFirst: fc.boolean(), bidirectional: fc.boolean(), dropout: fc.double({ min: 0, max: 1, noNaN: true }),
  projSize: fc.integer({ min: 0, max: 5 }), nonlinearity: fc.constantFrom('tanh', 'relu'),
}, { requiredKeys: ['inputSize', 'hiddenSize'] });

const badValueArb = fc.oneof(
  sizeOption, boolOption, junk, fc.double({ min: -2, max: 3 }), fc.constantFrom('sigmoid', 'TANH'), fc.integer({ min: 0, max: 8 }),
);

/** Valid options for some module kind (keys of other kinds make them invalid for this one), with up to two keys changed. */
const optionsArb = (kind: ModuleKind) => fc.tuple(validOptionsArb.map((o) => pick(o, keysOf(kind))), fc.array(fc.tuple(fc.constantFrom(
  'inputSize', 'hiddenSize', 'numLayers', 'bias', 'batchFirst', 'dropout', 'bidirectional', 'projSize', 'nonlinearity', 'hiddenSise',
), badValueArb), { maxLength: 2 }), fc.array(fc.constantFrom('numLayers', 'batchFirst', 'dropout', 'bidirectional', 'projSize', 'nonlinearity'), { maxLength: 6 }))
  .map(([base, changes, dropKeys]) => {
    const o: Record<string, unknown> = { ...base };
    for (const k of dropKeys) delete o[k];
    for (const [k, v] of changes) o[k] = v;
    return o;
  });

function keysOf(kind: ModuleKind): string[] {
  return kind.endsWith('Cell')
    ? ['inputSize', 'hiddenSize', 'bias', ...(kind === 'RNNCell' ? ['nonlinearity'] : [])]
    : ['inputSize', 'hiddenSize', 'numLayers', 'bias', 'batchFirst', 'dropout', 'bidirectional', ...(kind === 'RNN' ? ['nonlinearity'] : []), ...(kind === 'LSTM' ? ['projSize'] : [])];
}

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
const isBool = (v: unknown) => typeof v === 'boolean';

/** PyTorch's rules for the options, written out independently of lib/, plus the memory limit on parameters. */
function optionsValid(kind: ModuleKind, o: Record<string, unknown>): boolean {
  const cell = kind.endsWith('Cell');
  const keys = keysOf(kind);
  if (Object.keys(o).some((k) => !keys.includes(k))) return false;
  const def = (k: string) => o[k] === undefined;
  // PyTorch's cells accept hiddenSize 0 (empty parameters and results); the layers do not
  if (!isPositiveInt(o.inputSize) || !(isPositiveInt(o.hiddenSize) || (cell && o.hiddenSize === 0))) return false;
  if (!def('numLayers') && !isPositiveInt(o.numLayers)) return false;
  for (const k of ['bias', 'batchFirst', 'bidirectional']) if (!def(k) && !isBool(o[k])) return false;
  if (!def('dropout') && !(typeof o.dropout === 'number' && o.dropout >= 0 && o.dropout <= 1)) return false;
  if (!def('nonlinearity') && o.nonlinearity !== 'tanh' && o.nonlinearity !== 'relu') return false;
  const proj = def('projSize') ? 0 : o.projSize;
  if (!(typeof proj === 'number' && Number.isSafeInteger(proj) && proj >= 0 && (proj === 0 || proj < (o.hiddenSize as number)))) return false;
  const I = o.inputSize as number, H = o.hiddenSize as number, L = (o.numLayers as number) ?? 1;
  const G = (kind.startsWith('LSTM') ? 4 : kind.startsWith('GRU') ? 3 : 1) * H;
  const D = o.bidirectional === true ? 2 : 1, P = proj > 0 ? proj : H, bias = o.bias !== false;
  const layer = (inSize: number) => G * (inSize + (cell ? H : P)) + (bias ? 2 * G : 0) + proj * H;
  const floats = cell ? layer(I) : D * (layer(I) + (L - 1) * layer(D * P));
  return floats * 4 <= getMemoryLimit();
}

/** PyTorch's parameter names and shapes for valid options. */
function expectedParameters(kind: ModuleKind, o: Record<string, unknown>): [string, number[]][] {
  const I = o.inputSize as number, H = o.hiddenSize as number, bias = o.bias !== false;
  const G = (kind.startsWith('LSTM') ? 4 : kind.startsWith('GRU') ? 3 : 1) * H;
  if (kind.endsWith('Cell')) return [['weight_ih', [G, I]], ['weight_hh', [G, H]], ...(bias ? [['bias_ih', [G]], ['bias_hh', [G]]] as [string, number[]][] : [])];
  const L = (o.numLayers as number) ?? 1, D = o.bidirectional === true ? 2 : 1, proj = (o.projSize as number) ?? 0, P = proj > 0 ? proj : H;
  const out: [string, number[]][] = [];
  for (let l = 0; l < L; l++) {
    for (let d = 0; d < D; d++) {
      const s = `_l${l}${d === 1 ? '_reverse' : ''}`;
      out.push([`weight_ih${s}`, [G, l === 0 ? I : D * P]], [`weight_hh${s}`, [G, P]]);
      if (bias) out.push([`bias_ih${s}`, [G]], [`bias_hh${s}`, [G]]);
      if (proj > 0) out.push([`weight_hr${s}`, [proj, H]]);
    }
  }
  return out;
}

export const moduleOptionsProperty = fc.property(
  fc.constantFrom(...MODULE_KINDS).chain((kind) => fc.tuple(fc.constant(kind), fc.oneof({ weight: 12, arbitrary: optionsArb(kind) }, { weight: 1, arbitrary: junk }))),
  ([kind, options]) => {
    const r = settle(`new ${kind}(${show(options)})`, () => new CTORS[kind](options as never));
    const valid = options !== null && typeof options === 'object' && !Array.isArray(options) && optionsValid(kind, options as Record<string, unknown>);
    if (r.ok !== valid) throw new Error(`new ${kind}: ${r.ok ? 'accepted invalid' : `refused valid (${(r as { error: Error }).error.message})`} options`);
    if (!r.ok) return;
    const got = r.value.namedParameters().map(([name, p]) => [name, p.shape.slice()]);
    const want = expectedParameters(kind, options as Record<string, unknown>);
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`parameters ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    const bound = 1 / Math.sqrt((options as { hiddenSize: number }).hiddenSize);
    for (const p of r.value.parameters()) if (p.data.some((v) => !(Math.abs(v) <= bound * (1 + 1e-6)))) throw new Error('parameter outside the init bound');
  },
);

// ---------------------------------------------------------------------------------------------------------
// forward

export const moduleSpec = fc.record({
  mode: fc.constantFrom<Mode>('RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU'),
  inputSize: fc.integer({ min: 1, max: 4 }), hiddenSize: fc.integer({ min: 1, max: 5 }), numLayers: fc.integer({ min: 1, max: 3 }),
  bidirectional: fc.boolean(), batchFirst: fc.boolean(), bias: fc.boolean(), proj: fc.integer({ min: 0, max: 4 }),
});
export type ModuleSpec = typeof moduleSpec extends fc.Arbitrary<infer T> ? T : never;

export function buildModule(s: ModuleSpec): { module: Recurrent; ref: RefModule } {
  const base = { inputSize: s.inputSize, hiddenSize: s.hiddenSize, numLayers: s.numLayers, bidirectional: s.bidirectional, batchFirst: s.batchFirst, bias: s.bias };
  const projSize = s.mode === 'LSTM' && s.proj < s.hiddenSize ? s.proj : 0;
  const module = s.mode === 'LSTM' ? new LSTM({ ...base, projSize })
    : s.mode === 'GRU' ? new GRU(base) : new RNN({ ...base, nonlinearity: s.mode === 'RNN_TANH' ? 'tanh' : 'relu' });
  return { module, ref: { mode: s.mode, inputSize: s.inputSize, hiddenSize: s.hiddenSize, numLayers: s.numLayers, bidirectional: s.bidirectional, projSize, bias: s.bias } };
}

const HX_MODES = ['none', 'none', 'null', 'good', 'good', 'good', 'good', 'badH', 'badC', 'notPair'] as const;

const forwardCase = fc.record({
  spec: moduleSpec, T: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(0) }),
  B: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constant(0) }),
  batched: fc.boolean(), featureDelta: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1) }),
  input: tensorCase(), hxMode: fc.constantFrom(...HX_MODES), hxCase: tensorCase(0), seed: fc.nat(), special: fc.boolean(), async: fc.boolean(),
});

/** Rows of `data` ([T][B][n] in `order`) as per-batch sequences. */
function sequences(data: Float32Array, T: number, B: number, n: number, batchFirst: boolean): number[][][] {
  return Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => {
    const row = batchFirst ? b * T + t : t * B + b;
    return Array.from(data.subarray(row * n, row * n + n));
  }));
}

/** [K][B][n] state memory as per-batch [K][n] lists. */
function states(data: Float32Array, K: number, B: number, n: number): number[][][] {
  return Array.from({ length: B }, (_, b) => Array.from({ length: K }, (_, k) => Array.from(data.subarray((k * B + b) * n, (k * B + b) * n + n))));
}

export const forwardProperty = fc.asyncProperty(forwardCase, async (c) => {
  const { module, ref } = buildModule(c.spec);
  module.eval();
  const L = ref.numLayers, D = ref.bidirectional ? 2 : 1, H = ref.hiddenSize, P = ref.projSize || H, lstm = ref.mode === 'LSTM';
  const B = c.batched ? c.B : 1;
  const I = ref.inputSize + c.featureDelta;
  const shape = c.batched ? (c.spec.batchFirst ? [c.B, c.T, I] : [c.T, c.B, I]) : [c.T, I];
  const x = tensor(fill(shape.reduce((a, b) => a * b, 1), c.seed, c.special), shape);
  const hShape = c.batched ? [L * D, B, P] : [L * D, P];
  const cShape = c.batched ? [L * D, B, H] : [L * D, H];
  const h0 = tensor(fill(hShape.reduce((a, b) => a * b, 1), c.seed + 1, false), hShape);
  const c0 = tensor(fill(cShape.reduce((a, b) => a * b, 1), c.seed + 2, false), cShape);
  const hxBad = c.hxCase === 'good' ? 'junk' : c.hxCase;
  let hx: unknown;
  switch (c.hxMode) {
    case 'none': hx = undefined; break;
    case 'null': hx = null; break;
    case 'good': hx = lstm ? [h0, c0] : h0; break;
    case 'badH': hx = lstm ? [twist(hxBad, h0, c.seed), c0] : twist(hxBad, h0, c.seed); break;
    case 'badC': hx = lstm ? [h0, twist(hxBad, c0, c.seed)] : [h0]; break;
    default: hx = lstm ? h0 : [h0, c0];
  }
  const input = twist(c.input, x, c.seed);
  const call = () => (module.forward as (x: unknown, h?: unknown) => [Tensor, Tensor | [Tensor, Tensor]])(input, hx);
  const callAsync = () => (module.forwardAsync as (x: unknown, h?: unknown) => Promise<[Tensor, Tensor | [Tensor, Tensor]]>)(input, hx);
  const r = c.async ? await settleAsync('forwardAsync', callAsync) : settle('forward', call);
  // an empty batch (B = 0) is valid, as in PyTorch: empty results
  const valid = c.input === 'good' && c.T > 0 && c.featureDelta === 0 && ['none', 'null', 'good'].includes(c.hxMode);
  if (r.ok !== valid) throw new Error(`${r.ok ? 'accepted an invalid' : `refused a valid (${(r as { error: Error }).error.message})`} forward`);
  if (!r.ok) return;
  const [out, state] = r.value;
  const [hN, cN] = lstm ? (state as [Tensor, Tensor]) : [state as Tensor, null];
  sameShapeAs(out.shape, c.batched ? [...shape.slice(0, 2), D * P] : [c.T, D * P], 'output');
  sameShapeAs(hN.shape, hShape, 'hN');
  if (cN) sameShapeAs(cN.shape, cShape, 'cN');
  const p = paramsOf(module);
  const xs = sequences(x.data, c.T, B, ref.inputSize, c.batched && c.spec.batchFirst);
  const withState = c.hxMode === 'good';
  const h0s = states(h0.data, L * D, B, P), c0s = states(c0.data, L * D, B, H);
  const outs = sequences(out.data, c.T, B, D * P, c.batched && c.spec.batchFirst);
  const hNs = states(hN.data, L * D, B, P), cNs = cN ? states(cN.data, L * D, B, H) : null;
  for (let b = 0; b < B; b++) {
    const want = runSequence(ref, p, xs[b], withState ? h0s[b] : undefined, withState && lstm ? c0s[b] : undefined);
    closeTo(outs[b].flat(), want.output.flat(), TOL, `output[batch ${b}]`);
    closeTo(hNs[b].flat(), want.h.flat(), TOL, `hN[batch ${b}]`);
    if (cNs) closeTo(cNs[b].flat(), want.c.flat(), TOL, `cN[batch ${b}]`);
  }
});

// ---------------------------------------------------------------------------------------------------------
// packed sequences

const lengthArb = fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(0, 5, 1.5, -1, NaN, '2', null) });

export const packedProperty = fc.asyncProperty(
  moduleSpec, fc.integer({ min: 1, max: 4 }), fc.array(lengthArb, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean(),
  fc.constantFrom('array', 'tensor', 'manual'), fc.nat(), fc.boolean(), fc.boolean(),
  async (spec, T, rawLengths, enforceSorted, withState, lengthsAs, seed, async, extraLength) => {
    // half the time sorted, so that enforceSorted: true gets valid batches too
    const lengths = seed % 2 === 0 && rawLengths.every((v) => typeof v === 'number') ? (rawLengths as number[]).slice().sort((a, b) => b - a) : rawLengths;
    const { module, ref } = buildModule(spec);
    module.eval();
    const B = lengths.length;
    const L = ref.numLayers, D = ref.bidirectional ? 2 : 1, H = ref.hiddenSize, P = ref.projSize || H, lstm = ref.mode === 'LSTM';
    const shape = spec.batchFirst ? [B, T, ref.inputSize] : [T, B, ref.inputSize];
    const x = tensor(fill(B * T * ref.inputSize, seed, false), shape);
    const given = extraLength ? [...lengths, 1] : lengths;
    const lengthsArg = lengthsAs === 'tensor' && given.every((v) => typeof v === 'number' && Number.isFinite(v))
      ? tensor(Float32Array.from(given as number[])) : given;
    const packed = settle('packPaddedSequence', () => packPaddedSequence(x, lengthsArg as number[], { batchFirst: spec.batchFirst, enforceSorted }));
    const ints = given.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= T);
    const sorted = given.every((v, i) => i === 0 || (v as number) <= (given[i - 1] as number));
    const valid = !extraLength && ints && (!enforceSorted || sorted);
    if (packed.ok !== valid) throw new Error(`packPaddedSequence ${packed.ok ? 'accepted' : 'refused'} lengths ${JSON.stringify(given)} (T ${T}, B ${B}, enforceSorted ${enforceSorted})`);
    let input: PackedSequence;
    if (packed.ok) input = packed.value;
    else if (lengthsAs === 'manual') {
      // a hand-made PackedSequence with nonsense batch sizes must be refused too
      const sizes = BigInt64Array.from(given.map((v) => BigInt(typeof v === 'number' && Number.isInteger(v) ? v : 0)));
      input = new PackedSequence(zeros([Math.max(0, given.length), ref.inputSize]), tensor(sizes));
      const r = settle('forward(manual PackedSequence)', () => (module.forward as (x: unknown) => unknown)(input));
      const rows = sizes.reduce((a, b) => a + Number(b), 0);
      const okSizes = Array.from(sizes, Number).every((s, i, a) => s >= 1 && (i === 0 || s <= a[i - 1])) && rows === given.length;
      if (r.ok !== okSizes) throw new Error(`manual PackedSequence with batch sizes ${sizes.join(',')} ${r.ok ? 'accepted' : 'refused'}`);
      return;
    } else return;
    const hShape = [L * D, B, P], cShape = [L * D, B, H];
    const h0 = tensor(fill(L * D * B * P, seed + 1, false), hShape), c0 = tensor(fill(L * D * B * H, seed + 2, false), cShape);
    const hx = withState ? (lstm ? [h0, c0] : h0) : undefined;
    const fwd = module.forward as (x: PackedSequence, h?: unknown) => [PackedSequence, Tensor | [Tensor, Tensor]];
    const fwdAsync = module.forwardAsync as (x: PackedSequence, h?: unknown) => Promise<[PackedSequence, Tensor | [Tensor, Tensor]]>;
    const r = async ? await settleAsync('forwardAsync(packed)', () => fwdAsync.call(module, input, hx)) : settle('forward(packed)', () => fwd.call(module, input, hx));
    if (!r.ok) throw new Error(`forward refused a valid packed input: ${r.error.message}`);
    const [outPacked, state] = r.value;
    const [hN, cN] = lstm ? (state as [Tensor, Tensor]) : [state as Tensor, null];
    const [padded, outLengths] = padPackedSequence(outPacked, { batchFirst: spec.batchFirst });
    const lens = lengths as number[];
    const Tmax = Math.max(...lens);
    sameShapeAs(padded.shape, spec.batchFirst ? [B, Tmax, D * P] : [Tmax, B, D * P], 'padded output');
    if (Array.from(outLengths.data, Number).join() !== lens.join()) throw new Error(`lengths ${outLengths.data.join()}, expected ${lens.join()}`);
    const p = paramsOf(module);
    const xs = sequences(x.data, T, B, ref.inputSize, spec.batchFirst);
    const outs = sequences(padded.data, Tmax, B, D * P, spec.batchFirst);
    const h0s = states(h0.data, L * D, B, P), c0s = states(c0.data, L * D, B, H);
    const hNs = states(hN.data, L * D, B, P), cNs = cN ? states(cN.data, L * D, B, H) : null;
    for (let b = 0; b < B; b++) {
      const want = runSequence(ref, p, xs[b].slice(0, lens[b]), withState ? h0s[b] : undefined, withState && lstm ? c0s[b] : undefined);
      const padding = Array.from({ length: Tmax - lens[b] }, () => new Array<number>(D * P).fill(0));
      closeTo(outs[b].flat(), [...want.output, ...padding].flat(), TOL, `packed output[batch ${b}]`);
      closeTo(hNs[b].flat(), want.h.flat(), TOL, `packed hN[batch ${b}]`);
      if (cNs) closeTo(cNs[b].flat(), want.c.flat(), TOL, `packed cN[batch ${b}]`);
    }
  },
);

// ---------------------------------------------------------------------------------------------------------
// cells

export const cellProperty = fc.asyncProperty(
  fc.constantFrom<Mode>('RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU'), fc.integer({ min: 1, max: 4 }),
  fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.constant(0) }), fc.boolean(),
  fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constant(0) }), fc.boolean(),
  tensorCase(), fc.constantFrom('none', 'good', 'good', 'bad'), tensorCase(0), fc.nat(), fc.boolean(), fc.boolean(),
  async (mode, I, H, bias, Bgiven, batched, inputCase, hxMode, hxCase, seed, special, async) => {
    const cell: Cell = mode === 'LSTM' ? new LSTMCell({ inputSize: I, hiddenSize: H, bias }) : mode === 'GRU' ? new GRUCell({ inputSize: I, hiddenSize: H, bias })
      : new RNNCell({ inputSize: I, hiddenSize: H, bias, nonlinearity: mode === 'RNN_TANH' ? 'tanh' : 'relu' });
    const B = batched ? Bgiven : 1;
    const x = tensor(fill(B * I, seed, special), batched ? [B, I] : [I]);
    const sShape = batched ? [B, H] : [H];
    const h = tensor(fill(B * H, seed + 1, false), sShape), c = tensor(fill(B * H, seed + 2, false), sShape);
    const lstm = mode === 'LSTM';
    const bad = hxCase === 'good' ? 'wrongShape' : hxCase;
    const hx = hxMode === 'none' ? undefined : hxMode === 'good' ? (lstm ? [h, c] : h) : lstm ? [h, twist(bad, c, seed)] : twist(bad, h, seed);
    const input = twist(inputCase, x, seed);
    const f = cell.forward as (x: unknown, h?: unknown) => Tensor | [Tensor, Tensor];
    const fa = cell.forwardAsync as (x: unknown, h?: unknown) => Promise<Tensor | [Tensor, Tensor]>;
    const r = async ? await settleAsync('cell.forwardAsync', () => fa.call(cell, input, hx)) : settle('cell.forward', () => f.call(cell, input, hx));
    const valid = inputCase === 'good' && hxMode !== 'bad'; // B = 0 and H = 0 give empty results, as in PyTorch
    if (r.ok !== valid) throw new Error(`${cell.constructor.name} ${r.ok ? 'accepted an invalid' : `refused a valid (${(r as { error: Error }).error.message})`} call`);
    if (!r.ok) return;
    const [h1, c1] = lstm ? (r.value as [Tensor, Tensor]) : [r.value as Tensor, null];
    sameShapeAs(h1.shape, sShape, 'h\'');
    const ref: RefModule = { mode, inputSize: I, hiddenSize: H, numLayers: 1, bidirectional: false, projSize: 0, bias };
    const p = paramsOf(cell);
    for (let b = 0; b < B; b++) {
      const row = (t: Tensor, n: number) => Array.from(t.data.subarray(b * n, b * n + n));
      const start = hxMode === 'good';
      const [wh, wc] = step(ref, p, '', I, row(x, I), start ? row(h, H) : new Array(H).fill(0), start && lstm ? row(c, H) : new Array(H).fill(0));
      closeTo(row(h1, H), wh, TOL, `h'[${b}]`);
      if (c1) closeTo(row(c1, H), wc, TOL, `c'[${b}]`);
    }
  },
);

// ---------------------------------------------------------------------------------------------------------
// loadStateDict

const ENTRY = ['good', 'good', 'good', 'missing', 'disposed', 'int64', 'wrongShape', 'junk'] as const;

export const loadStateDictProperty = fc.property(
  moduleSpec, fc.array(fc.oneof({ weight: 40, arbitrary: fc.constant<(typeof ENTRY)[number]>('good') }, { weight: 1, arbitrary: fc.constantFrom(...ENTRY) }), { minLength: 40, maxLength: 40 }), fc.array(fc.string({ maxLength: 12 }), { maxLength: 2 }),
  fc.oneof({ weight: 6, arbitrary: fc.oneof(fc.boolean(), fc.constant(undefined)) }, { weight: 1, arbitrary: junk }), fc.nat(),
  (spec, entries, extra, strict, seed) => {
    const { module } = buildModule(spec);
    const named = module.namedParameters();
    const before = named.map(([, p]) => p.data.slice());
    const dict: Record<string, unknown> = {};
    const fresh: Record<string, Float32Array> = {};
    named.forEach(([name, p], i) => {
      const kind = entries[i % entries.length];
      if (kind === 'missing') return;
      fresh[name] = fill(p.numel, seed + i, false);
      dict[name] = kind === 'junk' ? [null, 1, 'w', {}][i % 4] : twist(kind, tensor(fresh[name], p.shape.slice()), seed);
    });
    const names = named.map(([n]) => n);
    for (const e of extra) if (!names.includes(e) && e !== '__proto__') dict[e] = zeros([1]);
    const r = settle('loadStateDict', () => module.loadStateDict(dict as never, strict === undefined ? undefined : { strict: strict as boolean }));
    const missing = names.filter((n) => !(n in dict));
    const unexpected = Object.keys(dict).filter((k) => !names.includes(k));
    const strictOn = strict === undefined || strict === true;
    const entriesOk = names.every((n) => !(n in dict) || entries[names.indexOf(n) % entries.length] === 'good');
    const valid = (strict === undefined || typeof strict === 'boolean') && entriesOk && (!strictOn || (missing.length === 0 && unexpected.length === 0));
    if (r.ok !== valid) throw new Error(`loadStateDict ${r.ok ? 'accepted' : `refused (${(r as { error: Error }).error.message})`} entries ${JSON.stringify(entries.slice(0, names.length))}, extra ${JSON.stringify(extra)}, strict ${show(strict)}`);
    if (r.ok) {
      if (JSON.stringify(r.value) !== JSON.stringify({ missingKeys: missing, unexpectedKeys: unexpected })) throw new Error(`result ${JSON.stringify(r.value)}`);
      named.forEach(([name, p], i) => closeTo(p.data, name in dict ? fresh[name] : before[i], 0, name));
    } else {
      named.forEach(([name, p], i) => closeTo(p.data, before[i], 0, `${name} after a refused load`));
    }
    // the module still works after whatever happened
    const [out] = (module.forward as unknown as (x: Tensor) => [Tensor])(zeros(spec.batchFirst ? [1, 2, spec.inputSize] : [2, 1, spec.inputSize]));
    if (out.data.some((v: number) => !Number.isFinite(v))) throw new Error('forward after loadStateDict is not finite');
  },
);
