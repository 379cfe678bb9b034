import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LoadSafetensorsOptions, loadSafetensors, readSafetensorsMetadata, saveSafetensors, serializeSafetensors } from '../lib/safetensors';
import { Tensor } from '../lib/tensor';
import { tensor } from '../lib/factories';

// Tests compile to dist/test/, the fixtures stay in the source tree.
const FIXTURES = path.resolve(__dirname, '../../test/fixtures/torch');

/** A safetensors file from a header (object or raw JSON text) and data bytes, without the writer's padding. */
function build(header: object | string, data: number[] | Uint8Array = []): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.from(data)]);
}

function u16(...values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => out.writeUInt16LE(v, i * 2));
  return out;
}

function loadOne(dtype: string, shape: number[], data: Buffer, options?: LoadSafetensorsOptions) {
  return loadSafetensors(build({ x: { dtype, shape, data_offsets: [0, data.length] } }, data), options).x;
}

describe('safetensors', () => {
  describe('PyTorch fixtures', () => {
    const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.safetensors')).sort();

    it('finds the fixture files', () => {
      assert.ok(files.length > 0, `no .safetensors files in ${FIXTURES}`);
    });

    it('re-serializes every fixture to the identical bytes Python wrote', () => {
      for (const file of files) {
        const full = path.join(FIXTURES, file);
        const original = fs.readFileSync(full);
        const out = serializeSafetensors(loadSafetensors(original), readSafetensorsMetadata(full));
        assert.ok(out.equals(original), `${file}: serialized bytes differ from the file`);
      }
    });

    it('loads names, dtypes, shapes and metadata', () => {
      const lstm = loadSafetensors(path.join(FIXTURES, '000-LSTM.safetensors'));
      assert.equal(lstm.weight_ih_l0.dtype, 'float32');
      assert.deepEqual(lstm.weight_ih_l0.shape, [20, 1]);
      assert.deepEqual(lstm.input.shape, [2, 3, 1]);
      const meta = readSafetensorsMetadata(path.join(FIXTURES, '000-LSTM.safetensors'));
      assert.equal(JSON.parse(meta.config).module, 'LSTM');

      const packed = loadSafetensors(path.join(FIXTURES, '050-RNN-relu.safetensors'));
      assert.equal(packed.lengths.dtype, 'int64');
      assert.deepEqual(packed.lengths.toArray(), [3n, 2n, 12n, 4n, 12n, 9n]);
    });
  });

  describe('memory sharing', () => {
    it('F32 and I64 tensors are views of the buffer', () => {
      const file = serializeSafetensors({ f: tensor([1, 2, 3]), i: tensor(new BigInt64Array([7n, 8n])) });
      const loaded = loadSafetensors(file);
      const dataStart = 8 + Number(file.readBigUInt64LE(0));
      // I64 sorts first: i at [0, 16), f at [16, 28).
      file.writeFloatLE(42, dataStart + 16 + 4);
      assert.deepEqual(loaded.f.toArray(), [1, 42, 3]);
      (loaded.f as Tensor<'float32'>).data[2] = -5;
      assert.equal(file.readFloatLE(dataStart + 16 + 8), -5);
      file.writeBigInt64LE(-9n, dataStart + 8);
      assert.deepEqual(loaded.i.toArray(), [7n, -9n]);
    });

    it('copies data that is not aligned for its type', () => {
      const file = serializeSafetensors({ f: tensor([1.5, -2]) });
      const misaligned = Buffer.alloc(file.length + 1).subarray(1);
      file.copy(misaligned);
      const loaded = loadSafetensors(misaligned).f as Tensor<'float32'>;
      assert.deepEqual(loaded.toArray(), [1.5, -2]);
      assert.notEqual(loaded.data.buffer, misaligned.buffer);
    });
  });

  describe('saving', () => {
    it('saves to a file and loads it back', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-'));
      try {
        const file = path.join(dir, 'model.safetensors');
        const dict = {
          weight: tensor([[0.5, -1.25], [3, 1e-7]]),
          scalar: tensor(new Float32Array([2.5]), []),
          empty: tensor(new Float32Array(0), [0, 3]),
          steps: tensor(new BigInt64Array([-1n, 2n ** 62n])),
        };
        saveSafetensors(file, dict, { format: 'pt', note: 'ünïcode "quoted"' });
        const loaded = loadSafetensors(file);
        assert.deepEqual(Object.keys(loaded), ['steps', 'empty', 'scalar', 'weight']);
        for (const [name, t] of Object.entries(dict)) {
          assert.equal(loaded[name].dtype, t.dtype);
          assert.deepEqual(loaded[name].shape, t.shape);
          assert.deepEqual(loaded[name].toArray(), t.toArray());
        }
        assert.deepEqual(readSafetensorsMetadata(file), { format: 'pt', note: 'ünïcode "quoted"' });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('matches the bytes of the Rust crate tests', () => {
      // safetensors/src/tensor.rs test_serialization and test_empty.
      const attn = serializeSafetensors({ 'attn.0': tensor([0, 1, 2, 3, 4, 5], [1, 2, 3]) });
      const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
      assert.deepEqual(attn.subarray(0, 8 + 64), Buffer.concat([Buffer.from([64, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(header)]));
      assert.equal(attn.length, 8 + 64 + 24);
      // A file without metadata round-trips through readSafetensorsMetadata's {}.
      assert.ok(serializeSafetensors(loadSafetensors(attn), readSafetensorsMetadata(attn)).equals(attn));
      assert.deepEqual(serializeSafetensors({}), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]));
      const withMeta = serializeSafetensors({}, { framework: 'pt' });
      assert.equal(withMeta.toString('latin1'), '\x28\0\0\0\0\0\0\0{"__metadata__":{"framework":"pt"}}     ');
    });

    it('pads the header to a multiple of 8 so data stays aligned', () => {
      for (const name of ['a', 'ab', 'abc', 'abcd', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh']) {
        const file = serializeSafetensors({ [name]: tensor([1]) });
        assert.equal(Number(file.readBigUInt64LE(0)) % 8, 0);
        assert.deepEqual(loadSafetensors(file)[name].toArray(), [1]);
      }
    });

    it('orders int64 before float32, then names by UTF-8 bytes', () => {
      const file = serializeSafetensors({ b: tensor([1]), a: tensor([1]), z: tensor(new BigInt64Array(1)), '\u{1F600}': tensor([1]), '\uFFFD': tensor([1]) });
      const names = Object.keys(JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString()));
      assert.deepEqual(names, ['z', 'a', 'b', '\uFFFD', '\u{1F600}']);
    });

    it('rejects bad arguments, naming the key', () => {
      assert.throws(() => serializeSafetensors({ w: [1, 2] as never }), { name: 'TypeError', message: /Tensor for dict\["w"\]/ });
      const disposed = tensor([1]);
      disposed.dispose();
      assert.throws(() => serializeSafetensors({ d: disposed }), /dict\["d"\] is a disposed Tensor/);
      assert.throws(() => serializeSafetensors({ __metadata__: tensor([1]) }), RangeError);
      assert.throws(() => serializeSafetensors({}, { k: 1 as never }), { name: 'TypeError', message: /string for metadata\["k"\] but received 1/ });
      assert.throws(() => serializeSafetensors(null as never), TypeError);
      assert.throws(() => saveSafetensors(3 as never, {}), TypeError);
      assert.throws(() => loadSafetensors(3 as never), /path string, Buffer or Uint8Array for pathOrBuffer/);
    });
  });

  describe('dtype conversion', () => {
    it('F16 to float32 with halfToFloat32, subnormals and infinities included', () => {
      const x = loadOne('F16', [9], u16(0x3c00, 0xc000, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x3555), { halfToFloat32: true });
      assert.equal(x.dtype, 'float32');
      assert.deepEqual(x.toArray(), [1, -2, 2 ** -24, 1023 * 2 ** -24, 65504, Infinity, -Infinity, -0, Math.fround(0.333251953125)]);
      assert.ok(Number.isNaN(loadOne('F16', [1], u16(0x7e00), { halfToFloat32: true }).data[0] as number));
    });

    it('BF16 to float32 with halfToFloat32', () => {
      const x = loadOne('BF16', [2, 2], u16(0x3f80, 0xc000, 0x7f80, 0x0001), { halfToFloat32: true });
      assert.equal(x.dtype, 'float32');
      assert.deepEqual(x.toArray(), [[1, -2], [Infinity, 2 ** -133]]);
    });

    it('F16 and BF16 load as float16 / bfloat16 by default, sharing the bytes', () => {
      const bits = [0x3c00, 0xc000, 0x0001, 0x7c00, 0x8000, 0x3555];
      const json = JSON.stringify({ h: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 12] }, b: { dtype: 'BF16', shape: [2], data_offsets: [12, 16] } });
      // padded like the writer's header, so that the data is aligned and loads as a view
      const bytes = build(json.padEnd(Math.ceil(json.length / 8) * 8, ' '), Buffer.concat([u16(...bits), u16(0x3f80, 0x7f80)]));
      const loaded = loadSafetensors(bytes);
      assert.equal(loaded.h.dtype, 'float16');
      assert.deepEqual(Array.from(loaded.h.data as Uint16Array), bits);
      assert.deepEqual(loaded.h.toArray(), [[1, -2, 2 ** -24], [Infinity, -0, 0.333251953125]]);
      assert.equal(loaded.b.dtype, 'bfloat16');
      assert.deepEqual(loaded.b.toArray(), [1, Infinity]);
      // a view of the bytes, like F32: writing the file's memory shows through
      bytes.writeUInt16LE(0x4000, bytes.length - 16);
      assert.equal((loaded.h.toArray() as number[][])[0][0], 2);
    });

    it('halfToFloat32 must be a boolean', () => {
      assert.throws(() => loadSafetensors(build({}, Buffer.alloc(0)), { halfToFloat32: 1 as never }), { name: 'TypeError', message: /halfToFloat32/ });
      assert.throws(() => loadSafetensors(build({}, Buffer.alloc(0)), { upcast: true } as never), { name: 'TypeError', message: /Unknown option "upcast"/ });
    });

    it('F64 to float32, rounding', () => {
      const data = Buffer.alloc(24);
      [1.5, 0.1, 1e300].forEach((v, i) => data.writeDoubleLE(v, i * 8));
      assert.deepEqual(loadOne('F64', [3], data).toArray(), [1.5, Math.fround(0.1), Infinity]);
    });

    it('integer and bool dtypes to int64', () => {
      const i32 = Buffer.alloc(12);
      [-2147483648, 2147483647, -1].forEach((v, i) => i32.writeInt32LE(v, i * 4));
      const x = loadOne('I32', [3], i32);
      assert.equal(x.dtype, 'int64');
      assert.deepEqual(x.toArray(), [-2147483648n, 2147483647n, -1n]);
      assert.deepEqual(loadOne('I16', [2], u16(0x8000, 0x7fff)).toArray(), [-32768n, 32767n]);
      assert.deepEqual(loadOne('I8', [2], Buffer.from([0xff, 5])).toArray(), [-1n, 5n]);
      assert.deepEqual(loadOne('U8', [2], Buffer.from([0xff, 5])).toArray(), [255n, 5n]);
      assert.deepEqual(loadOne('BOOL', [3], Buffer.from([0, 1, 2])).toArray(), [0n, 1n, 1n]);
    });
  });

  describe('malformed files', () => {
    const ok = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const data = new Array(8).fill(0);

    it('truncated or bad header length', () => {
      assert.throws(() => loadSafetensors(Buffer.from([1, 2, 3])), /3 bytes is too short/);
      const tooLong = build(ok, data);
      tooLong.writeBigUInt64LE(1000n);
      assert.throws(() => loadSafetensors(tooLong), /header length 1000 runs past the end/);
      tooLong.writeBigUInt64LE(2n ** 63n);
      assert.throws(() => loadSafetensors(tooLong), /over the 100000000-byte limit/);
      assert.throws(() => loadSafetensors(build(ok, data).subarray(0, 20)), /runs past the end/);
    });

    it('bad JSON or header shape', () => {
      assert.throws(() => loadSafetensors(build('{"x": ')), /not valid UTF-8 JSON/);
      assert.throws(() => loadSafetensors(build(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'))), /not valid UTF-8 JSON/);
      assert.throws(() => loadSafetensors(build('[1, 2]')), /not a JSON object/);
      assert.throws(() => loadSafetensors(build({ __metadata__: { a: 1 } })), /__metadata__\["a"\] is not a string/);
      assert.throws(() => readSafetensorsMetadata(build({ __metadata__: 'x' })), /__metadata__ is not an object/);
      assert.throws(() => loadSafetensors(build({ x: 5 })), /tensor "x" has 5/);
    });

    it('offsets out of bounds, overlapping or not matching the shape', () => {
      assert.throws(() => loadSafetensors(build(ok, data.slice(4))), /tensor "x" has data_offsets \[0, 8\] beyond the 4 bytes of data/);
      assert.throws(() => loadSafetensors(build({ x: { ...ok.x, data_offsets: [8, 0] } }, data)), /tensor "x" has invalid data_offsets/);
      assert.throws(() => loadSafetensors(build({ x: { ...ok.x, data_offsets: [-8, 0] } }, data)), /invalid data_offsets/);
      assert.throws(() => loadSafetensors(build({ x: { ...ok.x, shape: [3] } }, data)), /tensor "x" has shape \[3\] of F32 \(12 bytes\) but data_offsets \[0, 8\] span 8 bytes/);
      assert.throws(() => loadSafetensors(build({ x: { ...ok.x, shape: [2.5] } }, data)), /invalid shape/);
      const overlap = { ...ok, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } };
      assert.throws(() => loadSafetensors(build(overlap, data)), /tensors "x" \[0, 8\] and "y" \[4, 8\] overlap/);
    });

    it('unknown dtype', () => {
      assert.throws(() => loadSafetensors(build({ x: { ...ok.x, dtype: 'F8_E4M3' } }, data)), /tensor "x" has unsupported dtype "F8_E4M3"/);
      assert.throws(() => loadSafetensors(build({ x: { ...ok.x, dtype: 'U64', shape: [1] } }, data)), /unsupported dtype "U64"/);
    });

    it('reads metadata from the header only, {} when absent', () => {
      assert.deepEqual(readSafetensorsMetadata(build(ok, data)), {});
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-'));
      try {
        const file = path.join(dir, 'short.safetensors');
        fs.writeFileSync(file, build(ok, data).subarray(0, 12));
        assert.throws(() => readSafetensorsMetadata(file), /short\.safetensors.*runs past the end/);
        fs.writeFileSync(file, Buffer.from([1]));
        assert.throws(() => readSafetensorsMetadata(file), /1 bytes is too short/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
