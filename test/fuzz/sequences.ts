// Properties of the sequence-list helpers (padSequence, unpadSequence, packSequence, unpackSequence) and of
// Tensor.item: random lists of tensors of random lengths, dtypes and trailing shapes, with wrong entries and
// options mixed in. A valid call must equal an element-by-element reference written here from PyTorch's rules;
// any other call must be refused with a message.
import fc from 'fast-check';
import { Tensor, padSequence, packSequence, tensor, unpackSequence, unpadSequence } from '../../lib/index';
import { junk } from './arbitraries';
import { sameShapeAs, settle } from './harness';

type Entry = 'good' | 'zeroD' | 'otherTrailing' | 'int64' | 'disposed' | 'junk';
const entryArb = fc.oneof({ weight: 30, arbitrary: fc.constant<Entry>('good') }, { weight: 1, arbitrary: fc.constantFrom<Entry>('zeroD', 'otherTrailing', 'int64', 'disposed', 'junk') });

/** Plain numbers of a tensor of either dtype (int64 values are small here). */
const numbers = (t: Tensor<'float32' | 'int64'>): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

export const sequencesProperty = fc.property(
  fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), entryArb), { minLength: 0, maxLength: 4 }),
  fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), fc.boolean(),
  fc.oneof({ weight: 6, arbitrary: fc.boolean() }, { weight: 1, arbitrary: junk }),
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom<unknown>(undefined, 'left', 'right') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('middle', 'LEFT'), junk) }),
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom<unknown>(undefined, 0, -1.5, 2.7) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom(NaN, Infinity, 2 ** 63, -(2 ** 63)), junk) }),
  fc.boolean(), fc.nat(),
  (entries, trailing, int64, batchFirst, paddingSide, paddingValue, enforceSorted, seed) => {
    const dtype = int64 ? 'int64' : 'float32';
    let counter = seed % 1000;
    const make = (len: number, dims: number[], type: 'float32' | 'int64') =>
      tensor(Array.from({ length: len * dims.reduce((a, b) => a * b, 1) }, () => counter++), [len, ...dims], { dtype: type }) as Tensor<'float32'> | Tensor<'int64'>;
    const list: unknown[] = entries.map(([len, kind]) => {
      switch (kind) {
        case 'zeroD': return tensor(1);
        case 'otherTrailing': return make(len, [...trailing, 2], dtype);
        case 'int64': return make(len, trailing, int64 ? 'float32' : 'int64');
        case 'disposed': { const t = make(len, trailing, dtype); t.dispose(); return t; }
        case 'junk': return junk;
        default: return make(len, trailing, dtype);
      }
    });
    const options = { batchFirst, paddingSide, paddingValue } as Record<string, unknown>;
    for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k];
    const r = settle('padSequence', () => padSequence(list as Tensor[], options));
    const side = paddingSide === undefined ? 'right' : paddingSide;
    const pad = paddingValue === undefined ? 0 : paddingValue;
    // every entry a live tensor of at least one dimension, with entry 0's dtype and trailing dimensions
    const typeOf = (kind: Entry) => (kind === 'int64' ? (int64 ? 'float32' : 'int64') : dtype);
    const trailOf = (kind: Entry) => (kind === 'otherTrailing' ? [...trailing, 2] : trailing).join();
    const usable = (kind: Entry) => kind !== 'zeroD' && kind !== 'disposed' && kind !== 'junk';
    const entriesOk = entries.length > 0 && entries.every(([, kind]) => usable(kind) && typeOf(kind) === typeOf(entries[0][1]) && trailOf(kind) === trailOf(entries[0][1]));
    const firstType = entries.length > 0 ? typeOf(entries[0][1]) : dtype;
    const optionsOk = (batchFirst === undefined || typeof batchFirst === 'boolean') && (side === 'left' || side === 'right') && typeof pad === 'number' &&
      (firstType !== 'int64' || (Number.isFinite(pad) && Math.trunc(pad as number) >= -(2 ** 63) && Math.trunc(pad as number) < 2 ** 63));
    const valid = entriesOk && optionsOk;
    if (r.ok !== valid) throw new Error(`padSequence ${r.ok ? 'accepted' : `refused (${(r as { error: Error }).error.message})`} ${JSON.stringify(entries)} with ${JSON.stringify(options)}`);
    if (!r.ok) return;
    const seqs = list as (Tensor<'float32'> | Tensor<'int64'>)[];
    const lens = seqs.map((s) => s.shape[0]);
    const trail = seqs[0].shape.slice(1);
    const inner = trail.reduce((a, b) => a * b, 1);
    const B = seqs.length, T = Math.max(...lens);
    const padded = r.value as Tensor<'float32'> | Tensor<'int64'>;
    sameShapeAs(padded.shape, batchFirst ? [B, T, ...trail] : [T, B, ...trail], 'padded');
    const got = numbers(padded);
    const fill = firstType === 'int64' ? Math.trunc(pad as number) : Math.fround(pad as number);
    for (let b = 0; b < B; b++) {
      const values = numbers(seqs[b]);
      const start = side === 'left' ? T - lens[b] : 0;
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < inner; i++) {
          const want = t >= start && t < start + lens[b] ? values[(t - start) * inner + i] : fill;
          const have = got[((batchFirst ? b * T + t : t * B + b) * inner) + i];
          if (!(have === want || (Number.isNaN(have) && Number.isNaN(want)))) throw new Error(`padded[b=${b}, t=${t}, ${i}] = ${have}, expected ${want}`);
        }
      }
    }
    // unpadSequence takes each sequence's first lengths[b] steps (PyTorch's mask idx < length): the sequences
    // themselves after right padding, the padded rows' start after left padding
    const back = unpadSequence(padded, lens, { batchFirst: batchFirst as boolean });
    back.forEach((s, b) => {
      sameShapeAs(s.shape, seqs[b].shape, `unpadded ${b}`);
      const want = side === 'right' ? numbers(seqs[b])
        : Array.from({ length: lens[b] * inner }, (_, k) => got[((batchFirst ? b * T + Math.floor(k / inner) : Math.floor(k / inner) * B + b) * inner) + (k % inner)]);
      if (numbers(s).join() !== want.join()) throw new Error(`unpadded ${b} differs`);
    });
    // packSequence: refused for a length 0, or for increasing lengths under enforceSorted; else unpacks to the list
    const p = settle('packSequence', () => packSequence(seqs, { enforceSorted }));
    const packOk = lens.every((l) => l > 0) && (!enforceSorted || lens.every((l, i) => i === 0 || l <= lens[i - 1]));
    if (p.ok !== packOk) throw new Error(`packSequence ${p.ok ? 'accepted' : 'refused'} lengths ${lens.join(',')} (enforceSorted ${enforceSorted})`);
    if (!p.ok) return;
    if (p.value.data.numel !== lens.reduce((a, b) => a + b, 0) * inner) throw new Error('packed data size');
    unpackSequence(p.value).forEach((s, b) => {
      if (numbers(s).join() !== numbers(seqs[b]).join()) throw new Error(`unpacked ${b} differs`);
    });
  },
);

/** item() of random shapes: the single value, or PyTorch's refusal naming the element count. */
export const itemProperty = fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }), fc.boolean(), fc.integer({ min: -50, max: 50 }), (shape, int64, value) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = tensor(new Array(n).fill(value), shape, { dtype: int64 ? 'int64' : 'float32' }) as Tensor<'float32'> | Tensor<'int64'>;
  const r = settle('item', () => t.item());
  if (r.ok !== (n === 1)) throw new Error(`item of ${n} elements ${r.ok ? 'accepted' : 'refused'}`);
  if (r.ok && r.value !== (int64 ? BigInt(value) : value)) throw new Error(`item = ${String(r.value)}, expected ${value}`);
  if (!r.ok && r.error.message !== `a Tensor with ${n} elements cannot be converted to Scalar`) throw new Error(`item message: ${r.error.message}`);
});
