// safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N, N bytes of
// JSON header, then the raw little-endian tensor bytes. F32, F16, BF16 and I64 load as views of the file's memory
// (float16/bfloat16 tensors keep their bits); other dtypes are converted. Saving reproduces `safetensors.torch.save_file` byte for byte. Typed-array views use the
// host byte order, which is little-endian on every platform Node supports in practice.
import * as fs from 'node:fs';
import { checkBoolean, checkOptions, describe } from './checks';
import { bfloat16ToNumber, float16ToNumber } from './half';
import { AnyTensor, DType, isTensor, Tensor } from './tensor';
import { fromBuffer } from './factories';
import { numel } from './shape';

export interface LoadSafetensorsOptions {
  /**
   * Load F16 and BF16 tensors as float32 (exact) instead of float16/bfloat16, which is what this library did
   * before it had half-precision tensors; default false.
   */
  halfToFloat32?: boolean;
}

// The file dtypes loaded as views, with their tensor dtype and element size.
const SHARED: Record<string, [DType, number]> = { F32: ['float32', 4], I64: ['int64', 8], F16: ['float16', 2], BF16: ['bfloat16', 2] };
const FILE_DTYPE: Record<string, string> = { float32: 'F32', int64: 'I64', float16: 'F16', bfloat16: 'BF16' };
// The Rust writer sorts by descending dtype (its enum order: ... I8, ..., F16, BF16, ..., F32, ..., I64), then by name.
const WRITE_RANK: Record<string, number> = { I64: 0, F32: 1, BF16: 2, F16: 3, I8: 4 };

// The Rust reader's limit; anything bigger is a corrupt length, not a real header.
const MAX_HEADER_BYTES = 100_000_000;

type Reader = (view: DataView, byteOffset: number) => number;

// Element size and reader of each dtype that is converted (new memory) rather than shared.
const TO_FLOAT32: Record<string, [number, Reader]> = {
  F16: [2, (v, i) => float16ToNumber(v.getUint16(i, true))],
  BF16: [2, (v, i) => bfloat16ToNumber(v.getUint16(i, true))],
  F64: [8, (v, i) => v.getFloat64(i, true)],
};
const TO_INT64: Record<string, [number, Reader]> = {
  I32: [4, (v, i) => v.getInt32(i, true)],
  U32: [4, (v, i) => v.getUint32(i, true)],
  I16: [2, (v, i) => v.getInt16(i, true)],
  U16: [2, (v, i) => v.getUint16(i, true)],
  I8: [1, (v, i) => v.getInt8(i)],
  U8: [1, (v, i) => v.getUint8(i)],
  BOOL: [1, (v, i) => (v.getUint8(i) === 0 ? 0 : 1)],
};

function itemSize(dtype: string): number | undefined {
  if (SHARED[dtype]) return SHARED[dtype][1];
  return (TO_FLOAT32[dtype] ?? TO_INT64[dtype])?.[0];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

interface Source {
  bytes: Uint8Array;
  label: string;
}

function readSource(pathOrBuffer: unknown): Source {
  if (typeof pathOrBuffer === 'string') return { bytes: fs.readFileSync(pathOrBuffer), label: `safetensors file ${JSON.stringify(pathOrBuffer)}` };
  if (pathOrBuffer instanceof Uint8Array) return { bytes: pathOrBuffer, label: 'safetensors buffer' };
  throw new TypeError(`Expected a path string, Buffer or Uint8Array for pathOrBuffer but received ${describe(pathOrBuffer)}`);
}

/** The header's length and parsed JSON; `bytes` must hold at least the length field and the header. */
function parseHeader(bytes: Uint8Array, label: string, totalLength: number): { dataStart: number; header: Record<string, unknown> } {
  const fail = (problem: string): never => {
    throw new Error(`Invalid ${label}: ${problem}`);
  };
  if (totalLength < 8) fail(`${totalLength} bytes is too short for the 8-byte header length`);
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) fail(`header length ${declared} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(declared);
  if (8 + n > totalLength) fail(`header length ${n} runs past the end of the ${totalLength}-byte file`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (error) {
    fail(`header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) fail(`header is not a JSON object but ${describe(header)}`);
  return { dataStart: 8 + n, header: header as Record<string, unknown> };
}

function parseMetadata(header: Record<string, unknown>, label: string): Record<string, string> {
  const metadata = header.__metadata__;
  if (metadata === undefined) return {};
  if (!isPlainObject(metadata)) throw new Error(`Invalid ${label}: __metadata__ is not an object but ${describe(metadata)}`);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new Error(`Invalid ${label}: __metadata__[${JSON.stringify(key)}] is not a string but ${describe(value)}`);
  }
  return Object.fromEntries(Object.entries(metadata)) as Record<string, string>;
}

/**
 * Loads every tensor of a safetensors file (or of its bytes already in memory). F32, F16, BF16 and I64 tensors
 * (float32, float16, bfloat16, int64) share the buffer's memory (copied only where the data is not aligned for
 * its type); F64 becomes float32, I32, U32, I16, U16, I8, U8 and BOOL become int64. With `halfToFloat32`, F16
 * and BF16 become float32 too.
 */
export function loadSafetensors(pathOrBuffer: string | Buffer | Uint8Array, options?: LoadSafetensorsOptions): Record<string, AnyTensor> {
  const opts = checkOptions('loadSafetensors options', options, ['halfToFloat32']);
  const halfToFloat32 = opts.halfToFloat32 === undefined ? false : checkBoolean('halfToFloat32', opts.halfToFloat32);
  const { bytes, label } = readSource(pathOrBuffer);
  const { dataStart, header } = parseHeader(bytes, label, bytes.length);
  parseMetadata(header, label);
  const dataLength = bytes.length - dataStart;
  const entries: [string, { dtype: string; shape: number[]; begin: number; end: number }][] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const fail = (problem: string): never => {
      throw new Error(`Invalid ${label}: tensor ${JSON.stringify(name)} ${problem}`);
    };
    if (!isPlainObject(info)) fail(`has ${describe(info)} instead of {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    const size = typeof dtype === 'string' ? itemSize(dtype) : undefined;
    if (size === undefined) fail(`has unsupported dtype ${describe(dtype)} (supported: F32, I64, F16, BF16, F64, I32, U32, I16, U16, I8, U8, BOOL)`);
    if (!Array.isArray(shape) || !shape.every(isIndex)) fail(`has invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
      fail(`has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (end > dataLength) fail(`has data_offsets [${begin}, ${end}] beyond the ${dataLength} bytes of data`);
    const count = numel(shape as number[]);
    if (count * size! !== end - begin) {
      fail(`has shape [${(shape as number[]).join(', ')}] of ${dtype} (${count * size!} bytes) but data_offsets [${begin}, ${end}] span ${end - begin} bytes`);
    }
    entries.push([name, { dtype: dtype as string, shape: shape as number[], begin, end }]);
  }
  const byOffset = entries.slice().sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byOffset.length; i++) {
    const [prevName, prev] = byOffset[i - 1];
    const [name, cur] = byOffset[i];
    if (cur.begin < prev.end) {
      throw new Error(`Invalid ${label}: tensors ${JSON.stringify(prevName)} [${prev.begin}, ${prev.end}] and ${JSON.stringify(name)} [${cur.begin}, ${cur.end}] overlap`);
    }
  }
  return Object.fromEntries(entries.map(([name, { dtype, shape, begin, end }]): [string, AnyTensor] => {
    const start = dataStart + begin;
    const shared = SHARED[dtype];
    if (shared && !(halfToFloat32 && (dtype === 'F16' || dtype === 'BF16'))) {
      const aligned = (bytes.byteOffset + start) % shared[1] === 0;
      // A new Uint8Array gets its own ArrayBuffer at offset 0 (Buffer#slice would be a view).
      const source = aligned ? bytes : new Uint8Array(bytes.subarray(start, dataStart + end));
      const byteOffset = aligned ? start : 0;
      return [name, fromBuffer(source, shape, { byteOffset, dtype: shared[0] }) as AnyTensor];
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - begin);
    const float = TO_FLOAT32[dtype];
    const [size, read] = float ?? TO_INT64[dtype];
    const count = (end - begin) / size;
    if (float) return [name, new Tensor<'float32'>(Float32Array.from({ length: count }, (_, i) => read(view, i * size)), shape)];
    return [name, new Tensor<'int64'>(BigInt64Array.from({ length: count }, (_, i) => BigInt(read(view, i * size))), shape)];
  }));
}

/** The header's `__metadata__` (string to string), or `{}` when there is none; reads only the header. */
export function readSafetensorsMetadata(pathOrBuffer: string | Buffer | Uint8Array): Record<string, string> {
  if (typeof pathOrBuffer !== 'string') {
    const { bytes, label } = readSource(pathOrBuffer);
    return parseMetadata(parseHeader(bytes, label, bytes.length).header, label);
  }
  const label = `safetensors file ${JSON.stringify(pathOrBuffer)}`;
  const fd = fs.openSync(pathOrBuffer, 'r');
  try {
    const total = fs.fstatSync(fd).size;
    const prefix = Buffer.alloc(8);
    fs.readSync(fd, prefix, 0, 8, 0);
    const n = prefix.readBigUInt64LE(0);
    // Read just the header; parseHeader reports a length that is too big or runs past the file.
    const bytes = Buffer.alloc(8 + (n <= BigInt(Math.max(total - 8, 0)) ? Number(n) : 0));
    fs.readSync(fd, bytes, 0, bytes.length, 0);
    return parseMetadata(parseHeader(bytes, label, total).header, label);
  } finally {
    fs.closeSync(fd);
  }
}

// Rust's String order: by UTF-8 bytes (JS `<` compares UTF-16 units, which differs above U+FFFF).
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The bytes `safetensors.torch.save_file(dict, metadata=metadata)` writes: float32 as F32, float16 as F16,
 * bfloat16 as BF16, int64 as I64, ordered I64, F32, BF16, F16 (the Rust writer sorts by descending dtype), then
 * by name, the header padded with spaces to a multiple of 8. Metadata keys keep their order here (Python's come out in hash order); empty metadata is
 * omitted.
 */
export function serializeSafetensors(dict: Record<string, AnyTensor>, metadata?: Record<string, string>): Buffer {
  if (!isPlainObject(dict)) throw new TypeError(`Expected an object of tensors for dict but received ${describe(dict)}`);
  const entries = Object.entries(dict).map(([name, value]): SafetensorsEntry => {
    const key = `dict[${JSON.stringify(name)}]`;
    if (name === '__metadata__') throw new RangeError(`Expected a tensor name other than "__metadata__" for ${key} (the header reserves it)`);
    if (!isTensor(value)) throw new TypeError(`Expected a Tensor for ${key} but received ${describe(value)}`);
    if (value.disposed) throw new Error(`${key} is a disposed Tensor; it can no longer be used`);
    return { name, dtype: FILE_DTYPE[value.dtype], shape: value.shape, data: value.data };
  });
  return serializeEntries(entries, metadata);
}

/** One tensor of a file being written: its file dtype (F32, I64, BF16, F16 or I8), shape and little-endian data. */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: readonly number[];
  data: ArrayBufferView;
}

/**
 * The file bytes of `entries` (serializeSafetensors's writer; quantized modules also write I8 values through it).
 * @internal
 */
export function serializeEntries(entries: readonly SafetensorsEntry[], metadata?: Record<string, string>): Buffer {
  for (const { name } of entries) {
    if (name === '__metadata__') throw new RangeError(`Expected a tensor name other than "__metadata__" for dict[${JSON.stringify(name)}] (the header reserves it)`);
  }
  let json = '{';
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) throw new TypeError(`Expected an object of strings for metadata but received ${describe(metadata)}`);
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new TypeError(`Expected a string for metadata[${JSON.stringify(key)}] but received ${describe(value)}`);
    }
  }
  // An empty object is left out, as if none were given, so a file without metadata round-trips through
  // readSafetensorsMetadata's {} (Python would write "__metadata__":{} for an explicit {}).
  const hasMetadata = metadata !== undefined && Object.keys(metadata).length > 0;
  if (hasMetadata) json += `"__metadata__":${JSON.stringify(metadata)}`;
  const tensors = entries.slice().sort((a, b) => (a.dtype === b.dtype ? compareNames(a.name, b.name) : WRITE_RANK[a.dtype] - WRITE_RANK[b.dtype]));
  let offset = 0;
  const parts = tensors.map(({ name, dtype, shape, data }) => {
    const end = offset + data.byteLength;
    const entry = `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${offset},${end}]}`;
    offset = end;
    return entry;
  });
  json += (hasMetadata && parts.length > 0 ? ',' : '') + parts.join(',') + '}';
  const headerLength = Buffer.byteLength(json, 'utf8');
  const padded = headerLength + ((8 - (headerLength % 8)) % 8);
  const out = Buffer.alloc(8 + padded + offset, ' ');
  out.writeBigUInt64LE(BigInt(padded), 0);
  out.write(json, 8, 'utf8');
  let position = 8 + padded;
  for (const { data } of tensors) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), position);
    position += data.byteLength;
  }
  return out;
}

/** Writes `serializeSafetensors(dict, metadata)` to `path`. */
export function saveSafetensors(path: string, dict: Record<string, AnyTensor>, metadata?: Record<string, string>): void {
  if (typeof path !== 'string') throw new TypeError(`Expected a path string for path but received ${describe(path)}`);
  fs.writeFileSync(path, serializeSafetensors(dict, metadata));
}
