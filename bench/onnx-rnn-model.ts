// ONNX Runtime for the benchmark: builds, in code, an ONNX model that computes exactly what PyTorch's nn.LSTM /
// nn.GRU / nn.RNN compute (seq-first input, zero
// initial state), from weights in PyTorch's state_dict layout, and runs it on the
// CPU with onnxruntime-node.
//
// The model is one ONNX LSTM/GRU/RNN node per layer. Each node's output Y is
// [T, D, B, H]; a Transpose (only when D = 2) and a Reshape turn it into the
// [T, B, D*H] layout that PyTorch returns and that the next layer takes as input.
//
// The ONNX protobuf is written by hand (protobuf wire format, a few messages of
// onnx.proto) so the peer needs no package beyond onnxruntime-node.

import { endianness } from 'node:os';
import type * as Ort from 'onnxruntime-common'; // onnxruntime-node's API, typed without the runtime (a bench peer)
import { requirePeer } from './peer-require';

export type PeerCell = 'LSTM' | 'GRU' | 'RNN_TANH' | 'RNN_RELU';

export interface PeerSpec {
  cell: PeerCell;
  seqLen: number;
  batch: number;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  threads: number;
}

export interface OnnxPeer {
  /** Input [T, B, I] (seq-first); output of the last layer [T, B, D*H], as PyTorch returns it. */
  run(input: Float32Array): Promise<Float32Array>;
  release(): Promise<void>;
  /** onnxruntime version, e.g. "1.30.0". */
  version: string;
}

/** Opset of the generated model (LSTM/GRU/RNN are at version 14 there). */
const OPSET = 17;
/** IR version that goes with opset 17. */
const IR_VERSION = 8;

// ---------------------------------------------------------------------------
// Minimal protobuf writer (wire types 0 = varint, 2 = length-delimited)
// ---------------------------------------------------------------------------

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
class PbMessage {
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
const DATA_INT64 = 7;
/** AttributeProto.AttributeType */
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;
const ATTR_STRINGS = 8;

type AttributeValue = number | string | number[] | string[];

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

/** NodeProto: input=1, output=2, name=3, op_type=4, attribute=5. */
function onnxNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: Record<string, AttributeValue> = {},
): PbMessage {
  const m = new PbMessage();
  for (const input of inputs) m.string(1, input);
  for (const output of outputs) m.string(2, output);
  m.string(3, name).string(4, opType);
  for (const [key, value] of Object.entries(attributes)) m.message(5, onnxAttribute(key, value));
  return m;
}

/** TensorProto: dims=1, data_type=2, name=8, raw_data=9 (little-endian). */
function onnxTensor(name: string, dims: number[], data: Float32Array | BigInt64Array): PbMessage {
  const m = new PbMessage();
  for (const d of dims) m.int(1, d);
  m.int(2, data instanceof Float32Array ? DATA_FLOAT : DATA_INT64);
  m.string(8, name);
  m.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return m;
}

/**
 * ValueInfoProto (name=1, type=2) of a float tensor with a fixed shape:
 * TypeProto.tensor_type=1 { elem_type=1, shape=2 { dim=1 { dim_value=1 } } }.
 */
function onnxFloatValueInfo(name: string, dims: number[]): PbMessage {
  const shape = new PbMessage();
  for (const d of dims) shape.message(1, new PbMessage().int(1, d));
  const tensorType = new PbMessage().int(1, DATA_FLOAT).message(2, shape);
  const type = new PbMessage().message(1, tensorType);
  return new PbMessage().string(1, name).message(2, type);
}

/** GraphProto: node=1, name=2, initializer=5, input=11, output=12. */
function onnxGraph(
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

/** ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8 (OperatorSetIdProto: domain=1, version=2). */
function onnxModel(graph: PbMessage): Uint8Array {
  return new PbMessage()
    .int(1, IR_VERSION)
    .string(2, 'node-rnn bench/onnx-rnn-model')
    .message(7, graph)
    .message(8, new PbMessage().string(1, '').int(2, OPSET))
    .finish();
}

// ---------------------------------------------------------------------------
// PyTorch -> ONNX weight conversion
// ---------------------------------------------------------------------------

interface CellInfo {
  opType: 'LSTM' | 'GRU' | 'RNN';
  /** ONNX gate block j is PyTorch gate block gateOrder[j]. */
  gateOrder: number[];
  attributes(numDirections: number): Record<string, AttributeValue>;
}

function cellInfo(cell: PeerCell): CellInfo {
  switch (cell) {
    case 'LSTM':
      // PyTorch i,f,g,o -> ONNX i,o,f,c
      return { opType: 'LSTM', gateOrder: [0, 3, 1, 2], attributes: () => ({}) };
    case 'GRU':
      // PyTorch r,z,n -> ONNX z,r,h; PyTorch applies r after the hidden matmul + bias.
      return { opType: 'GRU', gateOrder: [1, 0, 2], attributes: () => ({ linear_before_reset: 1 }) };
    case 'RNN_TANH':
      return { opType: 'RNN', gateOrder: [0], attributes: (d) => ({ activations: Array(d).fill('Tanh') }) };
    case 'RNN_RELU':
      return { opType: 'RNN', gateOrder: [0], attributes: (d) => ({ activations: Array(d).fill('Relu') }) };
  }
}

/** Copies the gate blocks (blockSize elements each) of a PyTorch weight or bias into dst at offset, in ONNX gate order. */
function copyGates(dst: Float32Array, offset: number, src: Float32Array, gateOrder: number[], blockSize: number): void {
  gateOrder.forEach((from, to) => {
    dst.set(src.subarray(from * blockSize, (from + 1) * blockSize), offset + to * blockSize);
  });
}

function getWeight(weights: Record<string, Float32Array>, name: string, length: number, optional = false): Float32Array {
  const w = weights[name];
  if (w === undefined) {
    if (optional) return new Float32Array(length); // bias=False in PyTorch
    throw new Error(`onnx-rnn-model: missing weight ${name}`);
  }
  if (w.length !== length) throw new Error(`onnx-rnn-model: ${name} has ${w.length} elements, expected ${length}`);
  return w;
}

/** W [D, G*H, I_k], R [D, G*H, H], B [D, 2*G*H] (Wb then Rb) of layer k, in ONNX gate order. */
function layerTensors(
  spec: PeerSpec,
  info: CellInfo,
  weights: Record<string, Float32Array>,
  layer: number,
  layerInput: number,
): { W: Float32Array; R: Float32Array; B: Float32Array } {
  const H = spec.hiddenSize;
  const G = info.gateOrder.length;
  const D = spec.bidirectional ? 2 : 1;
  const W = new Float32Array(D * G * H * layerInput);
  const R = new Float32Array(D * G * H * H);
  const B = new Float32Array(D * 2 * G * H);
  for (let d = 0; d < D; d++) {
    const suffix = `_l${layer}${d === 1 ? '_reverse' : ''}`;
    const wih = getWeight(weights, `weight_ih${suffix}`, G * H * layerInput);
    const whh = getWeight(weights, `weight_hh${suffix}`, G * H * H);
    const bih = getWeight(weights, `bias_ih${suffix}`, G * H, true);
    const bhh = getWeight(weights, `bias_hh${suffix}`, G * H, true);
    copyGates(W, d * G * H * layerInput, wih, info.gateOrder, H * layerInput);
    copyGates(R, d * G * H * H, whh, info.gateOrder, H * H);
    copyGates(B, d * 2 * G * H, bih, info.gateOrder, H);
    copyGates(B, d * 2 * G * H + G * H, bhh, info.gateOrder, H);
  }
  return { W, R, B };
}

// ---------------------------------------------------------------------------
// Model and session
// ---------------------------------------------------------------------------

const INPUT = 'X';
const OUTPUT = 'Y';

/** Serialized ONNX model computing PyTorch's multi-layer RNN for the given spec and weights. */
export function buildOnnxModel(spec: PeerSpec, weights: Record<string, Float32Array>): Uint8Array {
  if (endianness() !== 'LE') throw new Error('onnx-rnn-model: raw tensor data is written little-endian only');
  const { seqLen: T, batch: B, inputSize: I, hiddenSize: H, numLayers } = spec;
  const D = spec.bidirectional ? 2 : 1;
  const info = cellInfo(spec.cell);

  const nodes: PbMessage[] = [];
  const initializers: PbMessage[] = [
    // Reshape [T, B, D, H] (or [T, 1, B, H] when D = 1) -> [T, B, D*H]; 0 keeps T.
    onnxTensor('seq_batch_features', [3], BigInt64Array.from([0n, -1n, BigInt(D * H)])),
  ];

  let x = INPUT;
  for (let k = 0; k < numLayers; k++) {
    const layerInput = k === 0 ? I : D * H;
    const t = layerTensors(spec, info, weights, k, layerInput);
    const [w, r, b] = [`W_l${k}`, `R_l${k}`, `B_l${k}`];
    initializers.push(
      onnxTensor(w, [D, info.gateOrder.length * H, layerInput], t.W),
      onnxTensor(r, [D, info.gateOrder.length * H, H], t.R),
      onnxTensor(b, [D, 2 * info.gateOrder.length * H], t.B),
    );

    const y = `Y_l${k}`; // [T, D, B, H]
    nodes.push(
      onnxNode(info.opType, [x, w, r, b], [y], `${info.opType}_l${k}`, {
        hidden_size: H,
        direction: spec.bidirectional ? 'bidirectional' : 'forward',
        ...info.attributes(D),
      }),
    );

    let tbdh = y;
    if (D === 2) {
      tbdh = `Y_l${k}_tbdh`; // [T, B, D, H]
      nodes.push(onnxNode('Transpose', [y], [tbdh], `Transpose_l${k}`, { perm: [0, 2, 1, 3] }));
    }
    const out = k === numLayers - 1 ? OUTPUT : `X_l${k + 1}`; // [T, B, D*H]
    nodes.push(onnxNode('Reshape', [tbdh, 'seq_batch_features'], [out], `Reshape_l${k}`));
    x = out;
  }

  const graph = onnxGraph(
    `${spec.cell}_peer`,
    nodes,
    initializers,
    [onnxFloatValueInfo(INPUT, [T, B, I])],
    [onnxFloatValueInfo(OUTPUT, [T, B, D * H])],
  );
  return onnxModel(graph);
}

/** Loads onnxruntime-node lazily (bench/peers), so that this module can be imported where it is absent. */
export function loadOnnxRuntime(): typeof Ort {
  return requirePeer<typeof Ort>('onnxruntime-node');
}

export async function createOnnxPeer(spec: PeerSpec, weights: Record<string, Float32Array>): Promise<OnnxPeer> {
  const ort = loadOnnxRuntime();
  const model = buildOnnxModel(spec, weights);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: spec.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });

  const D = spec.bidirectional ? 2 : 1;
  const inputDims = [spec.seqLen, spec.batch, spec.inputSize];
  const inputLength = spec.seqLen * spec.batch * spec.inputSize;
  const outputLength = spec.seqLen * spec.batch * D * spec.hiddenSize;

  return {
    version: ort.env.versions.common,
    async run(input: Float32Array): Promise<Float32Array> {
      if (input.length !== inputLength) {
        throw new Error(`onnx-rnn-model: input has ${input.length} elements, expected ${inputLength} ([${inputDims}])`);
      }
      const results = await session.run({ [INPUT]: new ort.Tensor('float32', input, inputDims) });
      const y = results[OUTPUT]!.data;
      if (!(y instanceof Float32Array) || y.length !== outputLength) {
        throw new Error('onnx-rnn-model: unexpected output tensor');
      }
      return y;
    },
    async release(): Promise<void> {
      await session.release();
    },
  };
}
