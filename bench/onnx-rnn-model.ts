// ONNX Runtime for the benchmark: builds, in code, an ONNX model that computes exactly what PyTorch's nn.LSTM /
// nn.GRU / nn.RNN compute (seq-first input, zero initial state), from weights in PyTorch's state_dict layout, and
// runs it on the CPU with onnxruntime-node; or, for an LSTM in int8, ONNX Runtime's own dynamically quantized
// model of the same weights (bench/onnx-int8.ts).
//
// The model is one ONNX LSTM/GRU/RNN (or DynamicQuantizeLSTM) node per layer. Each node's output Y is
// [T, D, B, H]; a Transpose (only when D = 2) and a Reshape turn it into the [T, B, D*H] layout that PyTorch
// returns and that the next layer takes as input. The protobuf is written by hand (bench/onnx-proto.ts).

import type * as Ort from 'onnxruntime-common'; // onnxruntime-node's API, typed without the runtime (a bench peer)
import type { FlopsCell, FlopsSpec } from './flops';
import { dynamicQuantizeLstm, type Int8Scales } from './onnx-int8';
import { MS_DOMAIN, onnxFloatValueInfo, onnxGraph, onnxModel, onnxNode, onnxTensor, type AttributeValue, type PbMessage } from './onnx-proto';
import { requirePeer } from './peer-require';

export type PeerCell = FlopsCell;

/** The layer's shape as bench/flops.ts counts it (no projection: ONNX's LSTM has none), plus ORT's threads. */
export interface PeerSpec extends Omit<FlopsSpec, 'projSize'> {
  threads: number;
  /** LSTM only: ONNX Runtime's int8 model (DynamicQuantizeLSTM) with weight scales per gate row or per direction */
  int8?: Int8Scales;
}

/** Why ONNX Runtime has no int8 model of `cell`, or null when it has. */
export function int8Unsupported(cell: PeerCell): string | null {
  return cell === 'LSTM' ? null : 'ONNX Runtime has no dynamically quantized GRU/RNN operator (quantize_dynamic leaves them float32)';
}

export interface OnnxPeer {
  /** Input [T, B, I] (seq-first); output of the last layer [T, B, D*H], as PyTorch returns it. */
  run(input: Float32Array): Promise<Float32Array>;
  release(): Promise<void>;
  /** onnxruntime version, e.g. "1.30.0". */
  version: string;
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
  const { seqLen: T, batch: B, inputSize: I, hiddenSize: H, numLayers } = spec;
  if (spec.int8 !== undefined && int8Unsupported(spec.cell) !== null) throw new Error(`onnx-rnn-model: ${int8Unsupported(spec.cell)}`);
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
    const y = `Y_l${k}`; // [T, D, B, H]
    const attributes = { hidden_size: H, direction: spec.bidirectional ? 'bidirectional' : 'forward', ...info.attributes(D) };
    if (spec.int8 !== undefined) {
      const q = dynamicQuantizeLstm(k, x, y, t, { D, H, I: layerInput }, attributes as Record<string, string | number>, spec.int8);
      initializers.push(...q.initializers);
      nodes.push(q.node);
    } else {
      const [w, r, b] = [`W_l${k}`, `R_l${k}`, `B_l${k}`];
      initializers.push(
        onnxTensor(w, [D, info.gateOrder.length * H, layerInput], t.W),
        onnxTensor(r, [D, info.gateOrder.length * H, H], t.R),
        onnxTensor(b, [D, 2 * info.gateOrder.length * H], t.B),
      );
      nodes.push(onnxNode(info.opType, [x, w, r, b], [y], `${info.opType}_l${k}`, attributes));
    }

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
  return onnxModel(graph, spec.int8 !== undefined ? [MS_DOMAIN] : []);
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
