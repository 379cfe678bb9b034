// float16 / bfloat16 on the CPU side: the conversions against an independent nearest-value reference (ties to
// even, NaN, infinities, subnormals), tensors (storage, factories, to(), printing), module conversion in place,
// copying ops (cat, permute, ...) keeping half storage, safetensors dtype preservation, and the errors of half-precision recurrent calls that cannot run here.
import { strict as assert } from 'node:assert';
import {
  GRU, LSTM, LSTMCell, RNN, Tensor, cat, fromBuffer, full, loadSafetensors, manualSeed, noGrad, ones, rand, randn, serializeSafetensors,
  stack, tensor, zeros,
} from '../lib/index';
import { bfloat16ToNumber, float16ToNumber, fromHalfArray, numberToBfloat16, numberToFloat16, toHalfArray } from '../lib/half';

// --- an independent reference: decode every bit pattern, then pick the nearest value (ties to the even pattern)

function decodeF16(bits: number): number {
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  const v = e === 0 ? m / 1024 * 2 ** -14 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return bits & 0x8000 ? -v : v;
}

function decodeBF16(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16);
  return view.getFloat32(0);
}

/** Positive finite patterns 0..max in increasing value, and the overflow threshold (max + half an ulp). */
function positives(decode: (b: number) => number, maxBits: number): { values: number[]; overflow: number } {
  const values = Array.from({ length: maxBits + 1 }, (_, b) => decode(b));
  return { values, overflow: values[maxBits] + (values[maxBits] - values[maxBits - 1]) / 2 };
}

const F16 = positives(decodeF16, 0x7bff);
const BF16 = positives(decodeBF16, 0x7f7f);

function reference(x: number, table: { values: number[]; overflow: number }, nan: number, signBit: number, inf: number): number {
  if (Number.isNaN(x)) return nan;
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  if (a >= table.overflow) return sign | inf;
  let lo = 0;
  let hi = table.values.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (table.values[mid] <= a) lo = mid;
    else hi = mid;
  }
  if (a >= table.values[hi]) return sign | hi;
  const dLo = a - table.values[lo];
  const dHi = table.values[hi] - a;
  return sign | (dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi);
}

const refF16 = (x: number) => reference(x, F16, 0x7e00, 0x8000, 0x7c00);
const refBF16 = (x: number) => reference(x, BF16, 0x7fc0, 0x8000, 0x7f80);

/** float32 values to test: random bit patterns, every midpoint between neighbours of `values`, and the edges. */
function probes(values: number[]): number[] {
  const out: number[] = [0, -0, Infinity, -Infinity, 65504, 65519.99, 65520, 1e-8, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 3.4e38, 1e-40];
  for (let i = 1; i < values.length; i++) {
    const mid = Math.fround((values[i - 1] + values[i]) / 2);
    out.push(mid, -mid, Math.fround(mid * (1 + 2 ** -23)), values[i]);
  }
  const bits = new Uint32Array(20000);
  let s = 12345;
  for (let i = 0; i < bits.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    bits[i] = (s ^ (s << 7)) >>> 0;
  }
  out.push(...new Float32Array(bits.buffer));
  return out.filter((v) => !Number.isNaN(v));
}

describe('half precision', () => {
  describe('conversions (lib/half.ts)', () => {
    it('float16: nearest value, ties to even, overflow to infinity, subnormals, signed zeros', () => {
      for (const x of probes(F16.values)) {
        assert.equal(numberToFloat16(x), refF16(x), `float16 of ${x}`);
      }
      assert.equal(numberToFloat16(NaN), 0x7e00);
      assert.equal(numberToFloat16(-NaN), 0x7e00);
      assert.equal(numberToFloat16(65519.99), 0x7bff);
      assert.equal(numberToFloat16(65520), 0x7c00);
      assert.equal(numberToFloat16(2 ** -25), 0); // the tie between 0 and the smallest subnormal goes to 0 (even)
      assert.equal(numberToFloat16(3 * 2 ** -26), 1);
      assert.equal(numberToFloat16(3 * 2 ** -25), 2); // tie between subnormals 1 and 2: to the even 2
      assert.equal(numberToFloat16(-0), 0x8000);
    });

    it('bfloat16: nearest value, ties to even, overflow to infinity, canonical NaN', () => {
      for (const x of probes(BF16.values.filter((_, i) => i % 37 === 0 || i < 300))) {
        assert.equal(numberToBfloat16(x), refBF16(x), `bfloat16 of ${x}`);
      }
      assert.equal(numberToBfloat16(NaN), 0x7fc0);
      assert.equal(numberToBfloat16(1 + 2 ** -8), 0x3f80); // tie: to the even 1.0
      assert.equal(numberToBfloat16(1 + 3 * 2 ** -8), 0x3f82); // tie: to the even 1 + 2^-6
      assert.equal(numberToBfloat16(3.4e38), 0x7f80);
    });

    it('every bit pattern decodes exactly and round-trips (NaNs to the canonical NaN)', () => {
      const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
      const f16 = fromHalfArray(all, 'float16');
      const bf16 = fromHalfArray(all, 'bfloat16');
      const backF16 = toHalfArray(f16, 'float16');
      const backBF16 = toHalfArray(bf16, 'bfloat16');
      for (let b = 0; b < 65536; b++) {
        assert.ok(Object.is(f16[b], Math.fround(decodeF16(b))) || (Number.isNaN(f16[b]) && Number.isNaN(decodeF16(b))), `float16 ${b}`);
        assert.ok(Object.is(bf16[b], decodeBF16(b)) || (Number.isNaN(bf16[b]) && Number.isNaN(decodeBF16(b))), `bfloat16 ${b}`);
        assert.ok(Object.is(float16ToNumber(b), f16[b]) || Number.isNaN(f16[b]));
        assert.ok(Object.is(bfloat16ToNumber(b), bf16[b]) || Number.isNaN(bf16[b]));
        assert.equal(backF16[b], Number.isNaN(f16[b]) ? 0x7e00 : b);
        assert.equal(backBF16[b], Number.isNaN(bf16[b]) ? 0x7fc0 : b);
      }
    });
  });

  describe('tensors', () => {
    it('tensor() with a half dtype stores the rounded bits; toArray gives their exact values', () => {
      const t = tensor([1, -2.5, 0.1, 1e5, 2 ** -24, -0], undefined, { dtype: 'float16' });
      assert.equal(t.dtype, 'float16');
      assert.ok(t.data instanceof Uint16Array);
      assert.deepEqual(Array.from(t.data), [0x3c00, 0xc100, 0x2e66, 0x7c00, 0x0001, 0x8000]);
      assert.deepEqual(t.toArray(), [1, -2.5, 0.0999755859375, Infinity, 2 ** -24, -0]);
      const b = tensor([[1, 3.14159]], undefined, { dtype: 'bfloat16' });
      assert.deepEqual(b.shape, [1, 2]);
      assert.deepEqual(b.toArray(), [[1, 3.140625]]);
    });

    it('a Uint16Array is shared and needs its dtype; a Float32Array converts', () => {
      const bits = Uint16Array.from([0x3c00, 0x4000]);
      const t = tensor(bits, [2], { dtype: 'bfloat16' });
      assert.equal(t.data, bits);
      assert.deepEqual(t.toArray(), [0.0078125, 2]);
      assert.throws(() => tensor(bits as never), { name: 'TypeError', message: /^Expected dtype 'float16' or 'bfloat16' for a Uint16Array/ });
      assert.throws(() => new Tensor(bits as never, [2]), { name: 'TypeError', message: /^Expected dtype 'float16' or 'bfloat16'/ });
      assert.throws(() => new Tensor(new Float32Array(2) as never, [2], 'float16'), { name: 'TypeError', message: /^Expected a Uint16Array for data of dtype float16/ });
      const f = Float32Array.from([0.1, 70000]);
      const h = tensor(f, undefined, { dtype: 'float16' });
      assert.notEqual(h.data as unknown, f);
      assert.deepEqual(h.toArray(), [0.0999755859375, Infinity]);
    });

    it('zeros / ones / full / rand / randn / fromBuffer in half dtypes', () => {
      assert.deepEqual(Array.from(zeros([2], { dtype: 'float16' }).data), [0, 0]);
      assert.deepEqual(Array.from(ones([2], { dtype: 'bfloat16' }).data), [0x3f80, 0x3f80]);
      assert.deepEqual(full([3], 1 / 3, { dtype: 'float16' }).toArray(), [0.333251953125, 0.333251953125, 0.333251953125]);
      manualSeed(7);
      const r = rand([4000], { dtype: 'float16' });
      assert.equal(r.dtype, 'float16');
      const values = r.toArray() as number[];
      assert.ok(values.every((v) => v >= 0 && v < 1 && Number.isInteger(v * 2048)), 'rand in float16 lies on the 2^-11 grid of [0, 1)');
      assert.ok(new Set(values).size > 1000);
      const rb = rand([4000], { dtype: 'bfloat16' }).toArray() as number[];
      assert.ok(rb.every((v) => v >= 0 && v < 1 && Number.isInteger(v * 256)));
      manualSeed(3);
      const n32 = randn([50]);
      manualSeed(3);
      const n16 = randn([50], { dtype: 'bfloat16' });
      assert.deepEqual(n16.toArray(), (n32.toArray() as number[]).map((v) => bfloat16ToNumber(numberToBfloat16(v))));
      const buffer = Buffer.alloc(8);
      buffer.writeUInt16LE(0x3c00, 2);
      const view = fromBuffer(buffer, [3], { byteOffset: 2, dtype: 'float16' });
      assert.deepEqual(view.toArray(), [1, 0, 0]);
      assert.throws(() => fromBuffer(buffer, [1], { byteOffset: 1, dtype: 'float16' }), { name: 'RangeError', message: /aligned to 2 bytes/ });
      assert.throws(() => rand([2], { dtype: 'int64' } as never), RangeError);
    });

    it("to(dtype), to(device, dtype), to({ dtype }), half(), bfloat16(), float(): new memory, rounded; same dtype returns itself", () => {
      const x = tensor([1.0009765625, 3.1, -70000, NaN]);
      const h = x.half();
      assert.equal(h.dtype, 'float16');
      assert.deepEqual(h.toArray(), [1.0009765625, 3.099609375, -Infinity, NaN]);
      assert.equal(h.to('float16'), h);
      assert.equal(h.to({}), h);
      assert.equal(h.to('cpu', 'float16'), h);
      const b = x.to({ dtype: 'bfloat16' });
      assert.deepEqual(b.toArray(), [1, 3.09375, -70144, NaN]);
      const back = h.float();
      assert.equal(back.dtype, 'float32');
      assert.deepEqual(back.toArray(), h.toArray());
      assert.deepEqual(h.to('cpu', 'bfloat16').toArray(), [1, 3.09375, -Infinity, NaN]);
      assert.deepEqual(x.bfloat16().toArray(), b.toArray());
      // reshape and clone keep the dtype; clone owns new memory
      const r = h.reshape(2, 2);
      assert.equal(r.dtype, 'float16');
      assert.equal(r.data, h.data);
      const c = h.clone();
      assert.notEqual(c.data, h.data);
      assert.deepEqual(Array.from(c.data), Array.from(h.data));
      assert.throws(() => x.to('float64' as never), { name: 'RangeError', message: /^Expected a device/ });
      assert.throws(() => x.to('cpu', 'int64' as never), { name: 'TypeError', message: /^Expected a floating dtype/ });
      assert.throws(() => x.to({ dtpye: 'float16' } as never), { name: 'TypeError', message: /^Unknown option "dtpye" for to options/ });
      assert.throws(() => tensor(new BigInt64Array(2)).to('float16' as never), { name: 'TypeError', message: /int64 tensors keep their dtype/ });
      assert.throws(() => (x.to as (...a: unknown[]) => unknown)(), TypeError);
    });

    it('prints like PyTorch, with the dtype', () => {
      assert.equal(tensor([1, 2.5, -0.1], undefined, { dtype: 'float16' }).toString(), 'tensor([ 1.0000,  2.5000, -0.1000], dtype=torch.float16)');
      assert.equal(tensor([1, 2], undefined, { dtype: 'bfloat16' }).toString(), 'tensor([1., 2.], dtype=torch.bfloat16)');
      assert.equal(zeros([0], { dtype: 'float16' }).toString(), 'tensor([], dtype=torch.float16)');
      assert.equal(zeros([2, 0], { dtype: 'bfloat16' }).toString(), 'tensor([], size=(2, 0), dtype=torch.bfloat16)');
      assert.equal(tensor([Infinity, NaN, 65504], undefined, { dtype: 'float16' }).toString(), 'tensor([   inf,    nan, 65504.], dtype=torch.float16)');
    });

    it('copying ops keep half dtypes and bits: cat, stack, narrow, select, transpose, permute, indexSelect', () => {
      manualSeed(5);
      for (const dtype of ['float16', 'bfloat16'] as const) {
        const x = randn([2, 3, 4]).to(dtype);
        const f = x.float();  // its values exactly; each op below copies them, so the results must match f's
        const index = tensor([2, 0, 2], undefined, { dtype: 'int64' });
        const ops: [string, (t: Tensor) => Tensor][] = [
          ['cat', (t) => cat([t, t.narrow(1, 1, 2)], 1)],
          ['stack', (t) => stack([t, t], 1)],
          ['narrow', (t) => t.narrow(2, 1, 2)],
          ['select', (t) => t.select(1, 2)],
          ['transpose', (t) => t.transpose(0, 2)],
          ['permute', (t) => t.permute([1, 2, 0])],
          ['indexSelect', (t) => t.indexSelect(1, index)],
        ];
        for (const [name, op] of ops) {
          const y = op(x as unknown as Tensor);
          assert.equal(y.dtype, dtype, `${dtype} ${name}: dtype`);
          assert.ok(y.data instanceof Uint16Array, `${dtype} ${name}: storage`);
          assert.deepEqual(y.float().toArray(), op(f).toArray(), `${dtype} ${name}: values`);
        }
      }
    });

    it('half tensors may require grad (floating point), int64 may not', () => {
      const h = tensor([1], undefined, { dtype: 'float16' }).requiresGrad_();
      assert.equal(h.requiresGrad, true);
      assert.throws(() => tensor(new BigInt64Array(1)).requiresGrad_(), TypeError);
    });
  });

  describe('modules', () => {
    it('half() / bfloat16() / float() / to(dtype) convert the parameters in place: same Tensor objects', () => {
      manualSeed(1);
      const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, projSize: 2 });
      const before = lstm.namedParameters();
      const values = before.map(([, p]) => Float32Array.from(p.data));
      lstm.parameters()[0].grad = tensor(Array.from({ length: 16 * 3 }, (_, i) => i / 7), [16, 3]);
      assert.equal(lstm.half(), lstm);
      assert.equal(lstm.dtype, 'float16');
      lstm.namedParameters().forEach(([name, p], i) => {
        assert.equal(p, before[i][1], `${name} is the same object`);
        assert.equal(p.dtype, 'float16');
        assert.equal(p.requiresGrad, true);
        assert.deepEqual(Array.from(p.data as unknown as Uint16Array), Array.from(toHalfArray(values[i], 'float16')), name);
      });
      assert.equal(lstm.parameters()[0].grad?.dtype, 'float16');
      assert.deepEqual((lstm.parameters()[0].grad?.toArray() as number[][]).flat(), Array.from({ length: 48 }, (_, i) => float16ToNumber(numberToFloat16(i / 7))));
      lstm.to({ dtype: 'bfloat16' });
      assert.equal(lstm.dtype, 'bfloat16');
      lstm.float();
      assert.equal(lstm.dtype, 'float32');
      lstm.namedParameters().forEach(([name, p], i) => {
        // float32 -> float16 -> bfloat16 -> float32: each value rounded twice
        const twice = fromHalfArray(toHalfArray(fromHalfArray(toHalfArray(values[i], 'float16'), 'float16'), 'bfloat16'), 'bfloat16');
        assert.deepEqual(Array.from(p.data), Array.from(twice), name);
      });
      assert.equal(lstm.to('cpu', 'float16').dtype, 'float16');
      assert.equal(lstm.stateDict().weight_ih_l0.dtype, 'float16');
    });

    it('float16 recurrent modules on the CPU: a clear error pointing to bfloat16, .float() or CUDA, before native code', () => {
      const gru = new GRU({ inputSize: 2, hiddenSize: 3 }).half();
      const x = randn([4, 1, 2]).half();
      assert.throws(() => noGrad(() => gru.forward(x as never)), {
        name: 'TypeError',
        message: 'GRU in float16 runs on CUDA only: on the CPU convert the module to bfloat16 with .bfloat16() (inference) or to float32 with .float(), or move the module and its inputs to CUDA with .cuda()',
      });
      const cell = new LSTMCell({ inputSize: 2, hiddenSize: 3 }).half();
      assert.throws(() => noGrad(() => cell.forward(randn([1, 2]).half() as never)), { name: 'TypeError', message: /^LSTMCell in float16 runs on CUDA only/ });
      return assert.rejects(() => gru.forwardAsync(x as never), { name: 'TypeError', message: /^GRU in float16 runs on CUDA only/ });
    });

    it("mixed dtypes: PyTorch's message (a bfloat16 module on the CPU also takes float32 inputs and states)", () => {
      const rnn = new RNN({ inputSize: 2, hiddenSize: 3 });
      assert.throws(() => rnn.forward(randn([4, 2]).half() as never), {
        name: 'TypeError', message: 'Input and parameter tensors are not the same dtype, found input tensor with Half and parameter tensor with Float',
      });
      rnn.half();
      assert.throws(() => rnn.forward(randn([4, 2])), {
        name: 'TypeError', message: 'Input and parameter tensors are not the same dtype, found input tensor with Float and parameter tensor with Half',
      });
      rnn.bfloat16();
      assert.throws(() => rnn.forward(randn([4, 2]).bfloat16() as never, zeros([1, 3], { dtype: 'float16' }) as never), {
        name: 'TypeError', message: 'Input and hidden tensors are not the same dtype, found input tensor with BFloat16 and hidden tensor with Half',
      });
      const [out, h] = noGrad(() => rnn.forward(randn([4, 2]), zeros([1, 3])));
      assert.equal(out.dtype, 'float32');
      assert.equal(h.dtype, 'float32');
      assert.throws(() => rnn.forward(randn([4, 2]), zeros([1, 3], { dtype: 'bfloat16' }) as never), {
        name: 'TypeError', message: 'Input and hidden tensors are not the same dtype, found input tensor with Float and hidden tensor with BFloat16',
      });
    });

    it('loadStateDict converts floating dtypes into the parameters\' dtype, like copy_', () => {
      const a = new GRU({ inputSize: 2, hiddenSize: 2 });
      const half = Object.fromEntries(a.namedParameters().map(([n, p]) => [n, p.half()]));
      const b = new GRU({ inputSize: 2, hiddenSize: 2 });
      b.loadStateDict(half);
      b.namedParameters().forEach(([n, p]) => {
        assert.equal(p.dtype, 'float32');
        assert.deepEqual(p.toArray(), half[n].toArray());
      });
      b.bfloat16().loadStateDict(a.stateDict());
      b.namedParameters().forEach(([n, p]) => assert.deepEqual(p.toArray(), a.stateDict()[n].bfloat16().toArray()));
    });
  });

  describe('safetensors', () => {
    it('saves float16 as F16 and bfloat16 as BF16 (ordered I64, F32, BF16, F16) and loads them back bit for bit', () => {
      const h = tensor([1, -0.5, 65504, NaN], [2, 2], { dtype: 'float16' });
      const b = tensor([3.140625, -Infinity], undefined, { dtype: 'bfloat16' });
      const bytes = serializeSafetensors({ h, b, f: tensor([1]), i: tensor(new BigInt64Array(1)) });
      const n = Number(bytes.readBigUInt64LE(0));
      const header = JSON.parse(bytes.subarray(8, 8 + n).toString()) as Record<string, { dtype: string; data_offsets: number[] }>;
      assert.deepEqual(Object.keys(header), ['i', 'f', 'b', 'h']);
      assert.equal(header.h.dtype, 'F16');
      assert.equal(header.b.dtype, 'BF16');
      assert.deepEqual(header.h.data_offsets, [16, 24]);
      const loaded = loadSafetensors(bytes);
      assert.equal(loaded.h.dtype, 'float16');
      assert.deepEqual(loaded.h.shape, [2, 2]);
      assert.deepEqual(Array.from(loaded.h.data as Uint16Array), Array.from(h.data));
      assert.equal(loaded.b.dtype, 'bfloat16');
      assert.deepEqual(Array.from(loaded.b.data as Uint16Array), Array.from(b.data));
      const upcast = loadSafetensors(bytes, { halfToFloat32: true });
      assert.equal(upcast.h.dtype, 'float32');
      assert.deepEqual(upcast.h.toArray(), [[1, -0.5], [65504, NaN]]);
    });
  });
});
