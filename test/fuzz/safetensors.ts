// loadSafetensors / readSafetensorsMetadata on random and mutated bytes: a dict that agrees with the header,
// or an Error that says the buffer is invalid; never a crash, a hang or an engine error.
import fc from 'fast-check';
import { loadSafetensors, readSafetensorsMetadata, serializeSafetensors, tensor } from '../../lib/index';
import { junk, lcg, smallShape } from './arbitraries';
import { settle, show } from './harness';

const INVALID = /^Invalid safetensors buffer: /;

function validFile(shapes: number[][], seed: number, int64: boolean[]): Buffer {
  const next = lcg(seed);
  const dict = Object.fromEntries(shapes.map((s, k) => {
    const n = s.reduce((a, b) => a * b, 1);
    return [`t${k}`, int64[k] ? tensor(BigInt64Array.from({ length: n }, () => BigInt(Math.round(next() * 100))), s) : tensor(Float32Array.from({ length: n }, () => next()), s)];
  }));
  return serializeSafetensors(dict, seed % 2 === 0 ? { seed: String(seed) } : undefined);
}

type Mutation = { kind: 'flip'; at: number; value: number } | { kind: 'truncate'; at: number } | { kind: 'header'; key: number; field: string; value: unknown } | { kind: 'length'; value: bigint };
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('header' as const), key: fc.nat(), field: fc.constantFrom('dtype', 'shape', 'data_offsets', '__metadata__', 'entry'),
    value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom<unknown>('F16', 'BF16', 'F64', 'I8', 'BOOL', 'U32', [0, 1e15], [2 ** 53, 2 ** 53], [1e6, 1e6, 1e6], [0, 2 ** 60], -1, [4, 0])),
  }),
  fc.record({ kind: fc.constant('length' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
) as fc.Arbitrary<Mutation>;

function mutate(file: Buffer, m: Mutation): Buffer {
  const out = Buffer.from(file);
  if (m.kind === 'flip') { if (out.length > 0) out[m.at % out.length] = m.value; return out; }
  if (m.kind === 'truncate') return out.subarray(0, m.at % (out.length + 1));
  if (m.kind === 'length') { out.writeBigUInt64LE(m.value, 0); return out; }
  const n = Number(out.readBigUInt64LE(0));
  const header = JSON.parse(out.subarray(8, 8 + n).toString('utf8')) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  if (m.field === '__metadata__') (header as Record<string, unknown>).__metadata__ = m.value;
  else if (names.length > 0) {
    const name = names[m.key % names.length];
    if (m.field === 'entry') (header as Record<string, unknown>)[name] = m.value;
    else header[name][m.field] = m.value;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length), 0);
  return Buffer.concat([len, json, out.subarray(8 + n)]);
}

function checkLoad(bytes: Uint8Array): void {
  const r = settle('loadSafetensors', () => loadSafetensors(bytes));
  if (!r.ok) {
    if (!INVALID.test(r.error.message)) throw new Error(`loadSafetensors threw an unclear error: ${r.error.message}`);
  } else {
    // every tensor agrees with the header it came from
    const n = Number(Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64LE(0));
    const header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
    for (const [name, t] of Object.entries(r.value)) {
      const h = header[name];
      if (h === undefined || JSON.stringify(t.shape) !== JSON.stringify(h.shape)) throw new Error(`tensor ${name} shape ${JSON.stringify(t.shape)} vs header ${JSON.stringify(h)}`);
      if (h.dtype === 'F32') {
        const view = new DataView(bytes.buffer, bytes.byteOffset + 8 + n + h.data_offsets[0]);
        t.data.forEach((v, k) => {
          const want = view.getFloat32(4 * k, true);
          if (!Object.is(Number(v), want)) throw new Error(`tensor ${name}[${k}] = ${v}, file holds ${want}`);
        });
      }
    }
  }
  const meta = settle('readSafetensorsMetadata', () => readSafetensorsMetadata(bytes));
  if (!meta.ok && !INVALID.test(meta.error.message)) throw new Error(`readSafetensorsMetadata threw an unclear error: ${meta.error.message}`);
}

export const safetensorsMutationProperty = fc.property(
  fc.array(smallShape(3, 3), { minLength: 0, maxLength: 3 }), fc.nat(), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.array(mutation, { minLength: 1, maxLength: 3 }),
  (shapes, seed, int64, mutations) => {
    let file = validFile(shapes, seed, int64);
    for (const m of mutations) {
      try {
        file = mutate(file, m);
      } catch {
        break; // the header no longer parses: later header edits are moot, the bytes are still a test case
      }
    }
    checkLoad(file);
  },
);

export const safetensorsRandomProperty = fc.property(
  fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.tuple(fc.bigInt({ min: 0n, max: 200n }), fc.string({ maxLength: 40 })).map(([n, s]) => {
    const json = Buffer.from(s, 'utf8');
    const out = Buffer.alloc(8 + json.length);
    out.writeBigUInt64LE(n, 0);
    json.copy(out, 8);
    return new Uint8Array(out);
  })),
  (bytes) => checkLoad(bytes),
);

export const safetensorsJunkProperty = fc.property(junk, (value) => {
  const r = settle('loadSafetensors(junk)', () => loadSafetensors(value as Buffer));
  if (r.ok) throw new Error(`loadSafetensors accepted ${show(value)}`);
});
