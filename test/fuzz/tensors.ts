// Properties of tensor factories, fromBuffer, tensor(), device moves, the differentiable ops, F.* and backward.
import fc from 'fast-check';
import {
  F, LSTM, Tensor, cuda, fromBuffer, full, getMemoryLimit, noGrad, ones, rand, randn, tensor, zeros,
  add, sub, mul, div, matmul, sum, mean, tanh, sigmoid, relu, exp, log, neg, softmax, logSoftmax, transpose, select, narrow,
  cat, stack, reshape, indexSelect,
} from '../../lib/index';
import { anyShape, deviceArg, junk, lcg, smallShape } from './arbitraries';
import { halfToNumber, numberToHalf } from '../../lib/half';

const FLOAT_DTYPES: readonly unknown[] = ['float32', 'float16', 'bfloat16'];
const isPlain = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);
import { closeTo, sameShapeAs, settle, show } from './harness';

const isDim = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Whether `device` names a usable device on this machine. */
function deviceUsable(device: unknown): boolean {
  if (device === 'cpu') return true;
  if (typeof device !== 'string' || !cuda.isAvailable()) return false;
  const m = /^cuda(?::(\d+))?$/.exec(device);
  return m !== null && Number(m[1] ?? 0) < cuda.deviceCount();
}

// ---------------------------------------------------------------------------------------------------------
// factories

const FACTORIES = ['zeros', 'ones', 'full', 'rand', 'randn'] as const;

export const factoryProperty = fc.property(
  fc.constantFrom(...FACTORIES), anyShape,
  fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: fc.record({ dtype: fc.oneof(fc.constantFrom('float32', 'int64', 'float16', 'bfloat16'), junk), device: deviceArg }, { requiredKeys: [] }) }, { weight: 1, arbitrary: junk }),
  fc.oneof(fc.double({ min: -1e6, max: 1e6 }), fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 63), junk),
  (fn, shape, options, value) => {
    const make = { zeros, ones, rand, randn, full: (s: unknown, o: unknown) => full(s as number[], value as number, o as never) }[fn] as (s: unknown, o?: unknown) => Tensor<'float32' | 'int64' & never>;
    const r = settle(`${fn}(${show(shape)})`, () => make(shape, options) as unknown as Tensor<'float32'> | Tensor<'int64'>);
    const o = (options ?? {}) as Record<string, unknown>;
    const optsOk = options === undefined || (typeof options === 'object' && options !== null && !Array.isArray(options) &&
      Object.keys(o).every((k) => ['dtype', 'device'].includes(k)) &&
      (o.dtype === undefined || FLOAT_DTYPES.includes(o.dtype) || (o.dtype === 'int64' && fn !== 'rand' && fn !== 'randn')) &&
      (o.device === undefined || deviceUsable(o.device)) && !(o.dtype === 'int64' && o.device !== undefined && o.device !== 'cpu'));
    const dtype = (o.dtype ?? 'float32') as 'float32' | 'float16' | 'bfloat16' | 'int64';
    const shapeOk = Array.isArray(shape) && shape.every(isDim);
    const fits = shapeOk && numel(shape) * (dtype === 'int64' ? 8 : dtype === 'float32' ? 4 : 2) <= getMemoryLimit();
    // int64 holds integers: a fill value that is not finite has no int64 form
    const valueOk = fn !== 'full' || (typeof value === 'number' && (dtype !== 'int64' || Number.isFinite(value) || (shapeOk && numel(shape) === 0)));
    const valid = optsOk && shapeOk && fits && valueOk;
    if (r.ok !== valid) throw new Error(`${fn}(${show(shape)}, ${show(value)}, ${show(options)}) ${r.ok ? 'accepted' : `refused (${(r as { error: Error }).error.message})`}`);
    if (!r.ok) return;
    const t = r.value;
    sameShapeAs(t.shape, shape as number[], fn);
    if (t.dtype !== dtype) throw new Error(`dtype ${t.dtype}, expected ${dtype}`);
    const host = Array.from(t.hostValues() as ArrayLike<number | bigint>, Number);
    const rounded = (v: number) => (dtype === 'float32' ? Math.fround(v) : dtype === 'int64' ? Math.trunc(v) : halfToNumber(dtype, numberToHalf(dtype, v)));
    const want = fn === 'zeros' ? 0 : fn === 'ones' ? 1 : fn === 'full' ? rounded(value as number) : null;
    if (want !== null && host.some((v) => !Object.is(v, want) && !(v === 0 && want === 0) && !(Number.isNaN(v) && Number.isNaN(want)))) {
      if (!(dtype === 'int64' && Math.abs(want) >= 2 ** 53)) throw new Error(`${fn} filled ${host[0]}, expected ${want}`);
    }
    if (fn === 'rand' && host.some((v) => !(v >= 0 && v < 1))) throw new Error('rand outside [0, 1)');
    if (fn === 'randn' && (dtype as string) !== 'float16' && host.some((v) => !Number.isFinite(v))) throw new Error('randn not finite');
    const moved = settle('to', () => t.to(o.device === undefined ? 'cpu' : (o.device as 'cpu')));
    if (!moved.ok) throw new Error(`to(its own device) refused: ${moved.error.message}`);
  },
);

export const deviceProperty = fc.property(smallShape(3), deviceArg, fc.boolean(), fc.boolean(), (shape, device, int64, disposed) => {
  const t = int64 ? zeros(shape, { dtype: 'int64' }) : randn(shape);
  if (disposed) t.dispose();
  const r = settle(`to(${show(device)})`, () => t.to(device as 'cpu'));
  // to() takes a device, a floating dtype or { device, dtype }; int64 tensors keep their dtype and stay on the CPU
  const opts = isPlain(device) ? device : null;
  const optsOk = opts !== null && Object.keys(opts).every((k) => k === 'device' || k === 'dtype') &&
    (opts.device === undefined || deviceUsable(opts.device)) && (opts.dtype === undefined || FLOAT_DTYPES.includes(opts.dtype));
  const targetDevice = opts ? opts.device ?? 'cpu' : FLOAT_DTYPES.includes(device) ? 'cpu' : device;
  const changesDtype = opts ? opts.dtype !== undefined : FLOAT_DTYPES.includes(device);
  const valid = !disposed && (opts ? optsOk : FLOAT_DTYPES.includes(device) || deviceUsable(device)) &&
    !(int64 && (changesDtype || targetDevice !== 'cpu'));
  if (r.ok !== valid) throw new Error(`to(${show(device)}) ${r.ok ? 'accepted' : `refused (${(r as { error: Error }).error.message})`} (int64 ${int64}, disposed ${disposed})`);
  if (r.ok) sameShapeAs(r.value.shape, shape, 'moved');
});

// ---------------------------------------------------------------------------------------------------------
// fromBuffer and tensor()

export const fromBufferProperty = fc.property(
  fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 9 }), fc.constantFrom('Buffer', 'Uint8Array', 'ArrayBuffer', 'junk'),
  fc.oneof({ weight: 3, arbitrary: smallShape(2, 3) }, { weight: 1, arbitrary: anyShape }),
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 4 }).map((k) => 4 * k) }, fc.integer({ min: 0, max: 40 }), junk, fc.constant(undefined)),
  fc.constantFrom<unknown>(undefined, 'float32', 'float32', 'int64', 'float64'),
  (size, viewOffset, kind, shape, byteOffset, dtype) => {
    const backing = new ArrayBuffer(size + viewOffset);
    const view = new Uint8Array(backing, Math.min(viewOffset, size + viewOffset), size);
    const buffer = kind === 'Buffer' ? Buffer.from(backing, viewOffset, size) : kind === 'Uint8Array' ? view : kind === 'ArrayBuffer' ? backing : 'bytes';
    const r = settle('fromBuffer', () => fromBuffer(buffer as Buffer, shape as number[], { byteOffset: byteOffset as number, dtype: dtype as 'float32' }));
    const item = dtype === 'int64' ? 8 : 4;
    const base = kind === 'ArrayBuffer' ? 0 : viewOffset;
    const available = kind === 'ArrayBuffer' ? size + viewOffset : size;
    const off = byteOffset === undefined ? 0 : byteOffset;
    const valid = kind !== 'junk' && (dtype === undefined || dtype === 'float32' || dtype === 'int64') && Array.isArray(shape) && shape.every(isDim) &&
      isDim(off) && (base + off) % item === 0 && off + numel(shape) * item <= available;
    if (r.ok !== valid) throw new Error(`fromBuffer(${kind} ${size}@${viewOffset}, ${show(shape)}, ${show(byteOffset)}, ${show(dtype)}) ${r.ok ? 'accepted' : `refused (${(r as { error: Error }).error.message})`}`);
    if (!r.ok || numel(shape as number[]) === 0) return;
    // shares the memory: a write through the buffer shows in the tensor
    const bytes = new Uint8Array(backing);
    bytes.fill(0, base + (off as number), base + (off as number) + item);
    bytes[base + (off as number)] = 7;
    const first = r.value.data[0];
    if (Number(first) !== (dtype === 'int64' ? 7 : new Float32Array(Uint8Array.of(7, 0, 0, 0).buffer)[0])) throw new Error(`fromBuffer does not share memory (read ${first})`);
  },
);

const nested: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.double({ min: -10, max: 10 }), fc.constantFrom<unknown>(NaN, Infinity, 3n, 'x', null),
    fc.array(tie('node'), { maxLength: 3 })),
})).node;

export const tensorProperty = fc.property(
  fc.oneof(nested, fc.array(fc.array(fc.double({ min: -10, max: 10 }), { minLength: 2, maxLength: 2 }), { maxLength: 3 })),
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: anyShape }),
  fc.constantFrom<unknown>(undefined, { dtype: 'float32' }, { dtype: 'int64' }, { dtype: 'bool' }, { device: 'cuda' }, 'opts'),
  (data, shape, options) => {
    const r = settle('tensor', () => tensor(data as number[], shape as number[], options as never));
    if (!r.ok) return;
    // a result holds exactly the given numbers, in order
    const flat: unknown[] = [];
    const walk = (v: unknown): void => (Array.isArray(v) ? v.forEach(walk) : void flat.push(v));
    walk(data);
    if (r.value.numel !== flat.length) throw new Error(`tensor of ${r.value.numel} elements from ${flat.length} values`);
    const int64 = (r.value.dtype as string) === 'int64';
    const values = r.value.device === 'cpu' ? r.value.data : r.value.hostData(); // { device: 'cuda' } on a GPU machine
    flat.forEach((v, i) => {
      const got = Number(values[i]);
      const want = int64 ? Math.trunc(Number(v)) : Math.fround(Number(v));
      if (!Object.is(got, want) && !(got === 0 && want === 0)) throw new Error(`tensor value ${i}: ${got}, expected ${want} from ${show(v)}`);
    });
  },
);

// ---------------------------------------------------------------------------------------------------------
// ops and F.*

type Arg = { kind: 'tensor'; shape: number[]; seed: number } | { kind: 'int64' | 'disposed'; shape: number[] } | { kind: 'number'; value: number } | { kind: 'junk'; value: unknown };
const argArb: fc.Arbitrary<Arg> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('tensor' as const), shape: smallShape(3, 3), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('int64' as const, 'disposed' as const), shape: smallShape(3, 3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('number' as const), value: fc.double({ min: -3, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('junk' as const), value: junk }) },
);

function materialise(a: Arg): unknown {
  switch (a.kind) {
    case 'tensor': { const next = lcg(a.seed); return tensor(Float32Array.from({ length: numel(a.shape) }, () => 2 * next()), a.shape); }
    case 'int64': return zeros(a.shape, { dtype: 'int64' });
    case 'disposed': { const t = zeros(a.shape); t.dispose(); return t; }
    default: return a.value;
  }
}

function broadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

function matmulShape(a: readonly number[], b: readonly number[]): number[] | null {
  if (a.length === 0 || b.length === 0) return null;
  const A = a.length === 1 ? [1, a[0]] : a, Bm = b.length === 1 ? [b[0], 1] : b;
  if (A[A.length - 1] !== Bm[Bm.length - 2]) return null;
  const batch = broadcast(A.slice(0, -2), Bm.slice(0, -2));
  if (batch === null) return null;
  return [...batch, ...(a.length === 1 ? [] : [A[A.length - 2]]), ...(b.length === 1 ? [] : [Bm[Bm.length - 1]])];
}

const shapeOf = (a: Arg): number[] | null => (a.kind === 'tensor' ? a.shape : a.kind === 'number' || (a.kind === 'junk' && typeof a.value === 'number') ? [] : null);
const dimOk = (d: unknown, ndim: number) => typeof d === 'number' && Number.isInteger(d) && d >= -ndim && d < ndim && ndim > 0;
// Reductions, softmax and transpose take dim -1 or 0 on a 0-d tensor, as PyTorch does.
const dimOk0 = (d: unknown, ndim: number) => dimOk(d, Math.max(ndim, 1));
const norm = (d: number, ndim: number) => (d < 0 ? d + ndim : d);

const UNARY: Record<string, [(t: never) => Tensor, (v: number) => number]> = {
  tanh: [tanh, Math.tanh], sigmoid: [sigmoid, (v) => 1 / (1 + Math.exp(-v))], relu: [relu, (v) => (v > 0 ? v : Number.isNaN(v) ? v : 0)],
  exp: [exp, Math.exp], log: [log, Math.log], neg: [neg, (v) => -v],
};
const BINARY: Record<string, [(a: never, b: never) => Tensor, (x: number, y: number) => number]> = {
  add: [add, (x, y) => x + y], sub: [sub, (x, y) => x - y], mul: [mul, (x, y) => x * y], div: [div, (x, y) => x / y],
};
const OPS = [...Object.keys(UNARY), ...Object.keys(BINARY), 'matmul', 'sum', 'mean', 'softmax', 'logSoftmax', 'transpose', 'select', 'narrow',
  'cat', 'stack', 'reshape', 'indexSelect', 'F.linear', 'F.mseLoss', 'F.bceWithLogits', 'F.crossEntropy', 'F.dropout', 'F.embedding'] as const;

export const opsProperty = fc.property(
  fc.constantFrom(...OPS), argArb, argArb, argArb, fc.integer({ min: -4, max: 4 }), fc.integer({ min: -2, max: 4 }), fc.oneof(fc.boolean(), junk),
  (op, a, b, c, i, j, flag) => {
    const [x, y, z] = [a, b, c].map(materialise);
    const sa = shapeOf(a), sb = shapeOf(b);
    const tensorA = a.kind === 'tensor' ? a.shape : null;
    // ops that only move elements take int64 tensors too
    const anyA = a.kind === 'tensor' || a.kind === 'int64' ? a.shape : null;
    let expected: number[] | null | undefined; // undefined: no shape rule written for this call
    let call: () => Tensor;
    let values: ((v: number, k: number) => number) | null = null;
    if (op in UNARY) {
      call = () => UNARY[op][0](x as never);
      expected = tensorA;
      values = (v) => UNARY[op][1](v);
    } else if (op in BINARY) {
      call = () => BINARY[op][0](x as never, y as never);
      expected = sa && sb && (a.kind === 'tensor' || b.kind === 'tensor') ? broadcast(sa, sb) : null;
    } else if (op === 'matmul') {
      call = () => matmul(x as never, y as never);
      expected = a.kind === 'tensor' && b.kind === 'tensor' ? matmulShape(a.shape, b.shape) : null;
    } else if (op === 'sum' || op === 'mean') {
      const keep = flag === true;
      call = () => (op === 'sum' ? sum : mean)(x as never, i, flag as boolean);
      // keepdim is optional (undefined: false), like PyTorch's default
      expected = tensorA && (flag === undefined || typeof flag === 'boolean') && dimOk0(i, tensorA.length) ? tensorA.flatMap((d, k) => (k === norm(i, tensorA.length) ? (keep ? [1] : []) : [d])) : null;
      if (op === 'mean' && expected && tensorA && tensorA.length > 0 && tensorA[norm(i, tensorA.length)] === 0) expected = undefined; // 0/0: NaN, as PyTorch
    } else if (op === 'softmax' || op === 'logSoftmax') {
      call = () => (op === 'softmax' ? softmax : logSoftmax)(x as never, i);
      expected = tensorA && dimOk0(i, tensorA.length) ? tensorA : null;
    } else if (op === 'transpose') {
      call = () => transpose(x as never, i, j);
      expected = anyA && dimOk0(i, anyA.length) && dimOk0(j, anyA.length)
        ? anyA.map((d, k) => (k === norm(i, anyA.length) ? anyA[norm(j, anyA.length)] : k === norm(j, anyA.length) ? anyA[norm(i, anyA.length)] : d)) : null;
    } else if (op === 'select') {
      call = () => select(x as never, i, j);
      expected = anyA && dimOk(i, anyA.length) && dimOk(j, anyA[norm(i, anyA.length)]) ? anyA.filter((_, k) => k !== norm(i, anyA.length)) : null;
    } else if (op === 'narrow') {
      const len = Math.abs(i);
      call = () => narrow(x as never, 0, j, len);
      const d0 = anyA?.[0];
      expected = anyA && anyA.length > 0 && d0 !== undefined && j >= -d0 && j <= d0 && (j < 0 ? j + d0 : j) + len <= d0 ? [len, ...anyA.slice(1)] : null;
    } else if (op === 'cat' || op === 'stack') {
      call = () => (op === 'cat' ? cat : stack)([x, y] as never, i);
      const both = (a.kind === 'tensor' || a.kind === 'int64') && (b.kind === 'tensor' || b.kind === 'int64');
      if (both && a.kind !== b.kind) expected = undefined; // mixed dtypes: no rule written here
      else if (!both || (a.kind !== 'tensor' && a.kind !== 'int64') || (b.kind !== 'tensor' && b.kind !== 'int64')) expected = null;
      else if (op === 'stack') {
        expected = a.shape.join() === b.shape.join() && dimOk(i, a.shape.length + 1) ? [...a.shape.slice(0, norm(i, a.shape.length + 1)), 2, ...a.shape.slice(norm(i, a.shape.length + 1))] : null;
      } else {
        const n = a.shape.length, d = norm(i, n);
        expected = n > 0 && dimOk(i, n) && b.shape.length === n && a.shape.every((s, k) => k === d || s === b.shape[k]) ? a.shape.map((s, k) => (k === d ? s + b.shape[k] : s)) : null;
      }
    } else if (op === 'reshape') {
      const dims = [i, j];
      call = () => reshape(x as never, dims);
      const n = anyA ? numel(anyA) : -1;
      const known = dims.filter((d) => d !== -1);
      const free = dims.length - known.length;
      expected = !anyA || known.some((d) => d < 0) || free > 1 ? null
        : free === 0 ? (numel(known) === n ? dims : null)
          : numel(known) === 0 || n % numel(known) !== 0 ? null : dims.map((d) => (d === -1 ? n / numel(known) : d));
    } else if (op === 'indexSelect') {
      call = () => indexSelect(x as never, i, y as never);
      expected = undefined;
    } else if (op === 'F.linear') {
      call = () => F.linear(x as never, y as never, (c.kind === 'junk' && c.value === undefined ? undefined : z) as never);
      expected = undefined;
    } else if (op === 'F.mseLoss' || op === 'F.bceWithLogits') {
      call = () => (op === 'F.mseLoss' ? F.mseLoss : F.bceWithLogits)(x as never, y as never);
      expected = a.kind === 'tensor' && b.kind === 'tensor' && a.shape.join() === b.shape.join() ? [] : undefined;
    } else if (op === 'F.crossEntropy') {
      call = () => F.crossEntropy(x as never, zeros(a.kind === 'tensor' ? a.shape.filter((_, k) => k !== 1) : [1], { dtype: 'int64' }) as never);
      expected = undefined;
    } else if (op === 'F.dropout') {
      call = () => F.dropout(x as never, j / 4, flag as boolean);
      expected = tensorA && j >= 0 && j <= 4 && typeof flag === 'boolean' ? tensorA : undefined;
    } else {
      call = () => F.embedding(y as never, x as never);
      expected = undefined;
    }
    const r = settle(op, call);
    if (expected !== undefined && r.ok !== (expected !== null)) {
      throw new Error(`${op}(${[a, b].map((v) => JSON.stringify(shapeOf(v)) + v.kind).join(', ')}, ${i}, ${j}, ${show(flag)}) ${r.ok ? 'accepted' : `refused (${(r as { error: Error }).error.message})`}`);
    }
    if (!r.ok || !expected) return;
    sameShapeAs(r.value.shape, expected, op);
    if (values && x instanceof Tensor) {
      closeTo(r.value.data, Array.from(x.data as Float32Array, (v: number, k: number) => Math.fround(values!(v, k))), 1e-5, op);
    }
  },
);

// ---------------------------------------------------------------------------------------------------------
// backward on random graphs

const STEPS = ['tanh', 'sigmoid', 'mulConst', 'addConst', 'matmulConst', 'square', 'softmax', 'logSoftmax', 'transpose', 'sumKeep', 'lstm', 'linear'] as const;
const lstmByWidth = new Map<number, LSTM>();

function graph(steps: readonly (typeof STEPS)[number][], seed: number): (x: Tensor) => Tensor {
  return (x) => {
    const next = lcg(seed);
    const constant = (shape: number[]) => tensor(Float32Array.from({ length: numel(shape) }, () => next()), shape);
    let t = x;
    for (const s of steps) {
      const [m, n] = t.shape;
      switch (s) {
        case 'tanh': t = tanh(t); break;
        case 'sigmoid': t = sigmoid(t); break;
        case 'mulConst': t = mul(t, constant([m, n])); break;
        case 'addConst': t = add(t, constant([n])); break;
        case 'matmulConst': t = matmul(t, constant([n, 3])); break;
        case 'square': t = mul(t, t); break;
        case 'softmax': t = softmax(t, 1); break;
        case 'logSoftmax': t = logSoftmax(t, 0); break;
        case 'transpose': t = transpose(t, 0, 1); break;
        case 'sumKeep': t = add(sum(t, 1, true), constant([m, 2])); break;
        case 'linear': t = F.linear(t, constant([2, n]), constant([2])); break;
        default: {
          if (!lstmByWidth.has(n)) lstmByWidth.set(n, new LSTM({ inputSize: n, hiddenSize: 2 }));
          t = lstmByWidth.get(n)!.forward(t)[0]; // [m, n] is an unbatched sequence of m steps
        }
      }
    }
    return sum(t);
  };
}

export const backwardProperty = fc.property(
  fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.constantFrom(...STEPS), { maxLength: 6 }), fc.nat(), fc.constantFrom('ok', 'ok', 'ok', 'ok', 'twice', 'badGrad', 'noGrad'),
  (m, n, steps, seed, misuse) => {
    const next = lcg(seed + 7);
    const x0 = Float32Array.from({ length: m * n }, () => next());
    const v = Float32Array.from({ length: m * n }, () => next());
    const f = graph(steps, seed);
    const x = tensor(x0.slice(), [m, n]).requiresGrad_();
    const loss = f(x);
    if (misuse === 'badGrad') {
      const r = settle('backward(bad grad)', () => loss.backward(zeros([2, 2])));
      if (r.ok) throw new Error('backward accepted a gradient of the wrong shape');
      return;
    }
    if (misuse === 'noGrad') {
      const r = settle('backward(no grad needed)', () => tensor([1, 2]).backward());
      if (r.ok) throw new Error('backward on a tensor that does not require grad succeeded');
    }
    loss.backward();
    if (misuse === 'twice') settle('second backward', () => loss.backward());
    const grad = x.grad;
    if (steps.length === 0 || grad === null) {
      if (grad === null) throw new Error('no gradient reached x');
    }
    sameShapeAs(grad!.shape, [m, n], 'x.grad');
    if (misuse === 'twice') return; // a second backward may accumulate (or throw); the values are not PyTorch's single pass
    // the gradient agrees with a central difference along v
    const eps = 1e-2;
    const at = (sign: number) => noGrad(() => f(tensor(x0.map((w, k) => w + sign * eps * v[k]), [m, n])).data[0]);
    const fd = (at(1) - at(-1)) / (2 * eps);
    const dot = grad!.data.reduce((s, g, k) => s + g * v[k], 0);
    if (!(Math.abs(fd - dot) <= 2e-2 * (1 + Math.abs(dot)))) throw new Error(`directional derivative ${dot}, central difference ${fd} (steps ${steps.join(' ')})`);
  },
);
