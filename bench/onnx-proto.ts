// The few messages of onnx.proto that the bench's ONNX models need, written straight to the protobuf wire format
// (wire types 0 = varint, 2 = length-delimited), so that the ONNX Runtime peer needs no package beyond
// onnxruntime-node. Field numbers are onnx.proto's.

import { endianness } from 'node:os';


const WIRE_VARINT = 0;
const WIRE_LEN = 2;

function varint(value: number): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(value)); // negative int64 -> 10 bytes, as protobuf does
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** A protobuf message under construction: a list of encoded byte chunks. */
export class PbMessage {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private key(field: number, wireType: number): void {
    this.push(varint(field * 8 + wireType));
  }

  /** int32 / int64 / enum field. */
  int(field: number, value: number): this {
    this.key(field, WIRE_VARINT);
    this.push(varint(value));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_LEN);
    this.push(varint(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: PbMessage): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// The few onnx.proto messages the model needs (field numbers from onnx.proto)
// ---------------------------------------------------------------------------

/** TensorProto.DataType */
const DATA_FLOAT = 1;
const DATA_UINT8 = 2;
const DATA_INT8 = 3;
const DATA_INT64 = 7;
/** AttributeProto.AttributeType */
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;
const ATTR_STRINGS = 8;

export type AttributeValue = number | string | number[] | string[];

/** AttributeProto: name=1, i=3, s=4, ints=8, strings=9, type=20. */
function onnxAttribute(name: string, value: AttributeValue): PbMessage {
  const m = new PbMessage().string(1, name);
  if (typeof value === 'number') {
    m.int(20, ATTR_INT).int(3, value);
  } else if (typeof value === 'string') {
    m.int(20, ATTR_STRING).string(4, value);
  } else if (value.every((v) => typeof v === 'number')) {
    m.int(20, ATTR_INTS);
    for (const v of value) m.int(8, v);
  } else {
    m.int(20, ATTR_STRINGS);
    for (const v of value) m.string(9, String(v));
  }
  return m;
}

/** NodeProto: input=1 (an empty name skips an optional input), output=2, name=3, op_type=4, attribute=5, domain=7. */
export function onnxNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: Record<string, AttributeValue> = {},
  domain = '',
): PbMessage {
  const m = new PbMessage();
  for (const input of inputs) m.string(1, input);
  for (const output of outputs) m.string(2, output);
  m.string(3, name).string(4, opType);
  for (const [key, value] of Object.entries(attributes)) m.message(5, onnxAttribute(key, value));
  if (domain !== '') m.string(7, domain);
  return m;
}

/** TensorProto: dims=1, data_type=2, name=8, raw_data=9 (little-endian). */
export function onnxTensor(name: string, dims: number[], data: Float32Array | Int8Array | Uint8Array | BigInt64Array): PbMessage {
  if (endianness() !== 'LE') throw new Error('onnx-proto: raw tensor data is written little-endian only');
  if (dims.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`onnx-proto: ${name} has ${data.length} elements, not [${dims}]`);
  const m = new PbMessage();
  for (const d of dims) m.int(1, d);
  const type = data instanceof Float32Array ? DATA_FLOAT : data instanceof Int8Array ? DATA_INT8 : data instanceof Uint8Array ? DATA_UINT8 : DATA_INT64;
  m.int(2, type);
  m.string(8, name);
  m.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return m;
}

/**
 * ValueInfoProto (name=1, type=2) of a float tensor with a fixed shape:
 * TypeProto.tensor_type=1 { elem_type=1, shape=2 { dim=1 { dim_value=1 } } }.
 */
export function onnxFloatValueInfo(name: string, dims: number[]): PbMessage {
  const shape = new PbMessage();
  for (const d of dims) shape.message(1, new PbMessage().int(1, d));
  const tensorType = new PbMessage().int(1, DATA_FLOAT).message(2, shape);
  const type = new PbMessage().message(1, tensorType);
  return new PbMessage().string(1, name).message(2, type);
}

/** GraphProto: node=1, name=2, initializer=5, input=11, output=12. */
export function onnxGraph(
  name: string,
  nodes: PbMessage[],
  initializers: PbMessage[],
  inputs: PbMessage[],
  outputs: PbMessage[],
): PbMessage {
  const m = new PbMessage();
  for (const n of nodes) m.message(1, n);
  m.string(2, name);
  for (const t of initializers) m.message(5, t);
  for (const i of inputs) m.message(11, i);
  for (const o of outputs) m.message(12, o);
  return m;
}

/** Opset of the generated models (LSTM/GRU/RNN are at version 14 there). */
const OPSET = 17;
/** IR version that goes with opset 17. */
const IR_VERSION = 8;
/** ONNX Runtime's contrib operators (DynamicQuantizeLSTM) live in this domain, at version 1. */
export const MS_DOMAIN = 'com.microsoft';

/**
 * ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8 (OperatorSetIdProto: domain=1, version=2);
 * the default domain at OPSET, plus com.microsoft 1 when a node uses it.
 */
export function onnxModel(graph: PbMessage, domains: readonly string[] = []): Uint8Array {
  const m = new PbMessage().int(1, IR_VERSION).string(2, 'node-rnn bench/onnx-rnn-model').message(7, graph);
  m.message(8, new PbMessage().string(1, '').int(2, OPSET));
  for (const d of domains) m.message(8, new PbMessage().string(1, d).int(2, 1));
  return m.finish();
}
