// Properties of optimizeForInference and the modules it makes: random modules (alone, as cells, inside containers,
// or junk) with random options must be copied or refused, the original untouched; the copies called with good and
// bad inputs must give the float32 module's results to the bit (module.bfloat16()'s with dtype 'bfloat16') or refuse;
// and packed forms of either dtype with a corrupted header or a cut length, handed to the addon directly, must be
// refused or computed on, never read out of bounds.
import fc from 'fast-check';
import { GRUCell, LSTM, LSTMCell, Linear, Module, RNNCell, Sequential, noGrad, optimizeForInference, randn } from '../../lib/index';
import { NativeForwardCall, native } from '../../lib/binding';
import { junk } from './arbitraries';
import { settle, show } from './harness';
import { buildModule, moduleSpec } from './modules';
import { inferenceCallProperty } from './quantize';

const optionsArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.record({ dtype: fc.constantFrom<unknown>('float32', 'bfloat16', undefined) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ dtype: fc.oneof(junk, fc.constantFrom('int8', 'float16', 'FLOAT32')) }) },
  { weight: 1, arbitrary: fc.oneof(junk, fc.record({ dtyp: fc.constant('float32') })) },
);

function optionsValid(o: unknown): boolean {
  if (o === undefined) return true;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return false;
  const r = o as Record<string, unknown>;
  return Object.keys(r).every((k) => k === 'dtype') && (r.dtype === undefined || r.dtype === 'float32' || r.dtype === 'bfloat16');
}

export const optimizeForInferenceProperty = fc.property(
  fc.record({ kind: fc.constantFrom('recurrent', 'cell', 'sequential', 'junk'), spec: moduleSpec, options: optionsArb, seed: fc.nat() }),
  (c) => {
    const { module: recurrent } = buildModule(c.spec);
    const cellKind = c.spec.mode === 'LSTM' ? LSTMCell : c.spec.mode === 'GRU' ? GRUCell : RNNCell;
    const inner: Module = c.kind === 'cell' ? new cellKind({ inputSize: c.spec.inputSize, hiddenSize: c.spec.hiddenSize, bias: c.spec.bias }) : recurrent;
    const module: unknown = c.kind === 'junk' ? [inner, {}, 'module', null][c.seed % 4]
      : c.kind === 'sequential' ? new Sequential(new Linear({ inFeatures: 2, outFeatures: 3 }), inner) : inner;
    const params = inner.parameters();
    const before = params.map((p) => p.data.slice());
    const r = settle(`optimizeForInference(${c.kind}, ${show(c.options)})`, () => optimizeForInference(module as Module, c.options as never));
    const valid = module instanceof Module && optionsValid(c.options);
    if (r.ok !== valid) throw new Error(`optimizeForInference ${r.ok ? 'accepted' : `refused (${(r as { error: Error }).error.message})`} a ${valid ? 'valid' : 'invalid'} call`);
    params.forEach((p, i) => {
      if (p.data.some((v, j) => !Object.is(v, before[i][j])) || !p.requiresGrad) throw new Error('optimizeForInference changed the original');
    });
    if (!r.ok) return;
    const p = r.value;
    if (p.constructor !== (module as Module).constructor || p === module || p.training) throw new Error('not a new module of the same class in eval mode');
    const kept = p.namedParameters().length;
    if (kept !== (c.kind === 'sequential' ? 2 : 0) || p.parameters().some((t) => t.requiresGrad)) throw new Error(`${kept} parameters kept`);
  },
);

function sameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`${what}[${i}] = ${actual[i]}, the module itself gives ${expected[i]}`);
  }
}

export const preparedCallProperty = inferenceCallProperty('prepared', (m) => optimizeForInference(m), sameBits, ['recurrent', 'cell']);
export const preparedBf16CallProperty = inferenceCallProperty('prepared bfloat16', (m) => optimizeForInference(m, { dtype: 'bfloat16' }), sameBits, ['recurrent', 'cell'], true);

/** A prepared LSTM's native call (2 layer-directions of differing input sizes). */
function preparedCall(dtype: 'float32' | 'bfloat16'): NativeForwardCall {
  const p = optimizeForInference(new LSTM({ inputSize: 3, hiddenSize: 18, bidirectional: true, projSize: 5 }), { dtype });
  const seen: NativeForwardCall[] = [];
  const real = native.rnnForward;
  native.rnnForward = (call) => (seen.push(call), real(call));
  try {
    noGrad(() => p.forward(randn([4, 2, 3])));
  } finally {
    native.rnnForward = real;
  }
  return seen[0];
}

export const corruptPackedProperty = fc.property(
  fc.record({ dtype: fc.constantFrom<'float32' | 'bfloat16'>('float32', 'bfloat16'), which: fc.nat(1), at: fc.nat(127), value: fc.nat(255), cut: fc.oneof(fc.constant(-1), fc.nat(5000)) }),
  (c) => {
    const call = preparedCall(c.dtype);
    const packed = call.prepacked!.map((b) => Uint8Array.from(b));
    const form = packed[c.which];
    form[c.at] = c.value;
    packed[c.which] = c.cut >= 0 ? form.subarray(0, Math.min(c.cut, form.length)) : form;
    const r = settle('rnnForward with a corrupted packed form', () => native.rnnForward({ ...call, prepacked: packed }));
    if (!r.ok && !(r.error instanceof RangeError)) throw new Error(`refused with ${r.error.constructor.name}: ${r.error.message}`);
  },
);
