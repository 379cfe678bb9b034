// ONNX Runtime's own int8 LSTM, the peer of node-rnn's int8 rows: what onnxruntime.quantization.quantize_dynamic
// makes of an ONNX LSTM (its operators/lstm.py), built from the same weights. The float LSTM node becomes a
// com.microsoft DynamicQuantizeLSTM whose inputs are
//   X, W int8 [D, I, 4H], R int8 [D, H, 4H] (the LSTM's W [D, 4H, I] and R [D, 4H, H] transposed), B float
//   [D, 8H], sequence_lens, initial_h, initial_c, P (all four absent here), W_scale, W_zero_point, R_scale,
//   R_zero_point
// with scales and zero points of shape [D, 4H] (per gate row, quantize_dynamic's per_channel=True) or [D] (one per
// direction, its default). The weights are symmetric int8 (zero point 0, scale = max|w| / 127, q = w / scale
// rounded half to even, within [-127, 127]), as quantize_dynamic writes int8 weights (stored as uint8 + 128 on CPUs
// without VNNI: weightType below). ONNX Runtime quantizes the
// activations itself at run time: each GEMM's float operand (a direction's whole input sequence [T*B, I], then
// h_{t-1} [B, H] at every step) to uint8 with the operand's own min/max (range widened to include 0, scale =
// (max - min) / 255, zero point = -min / scale rounded), multiplies in integers and scales back to float before
// the bias and the gates. GRU and RNN have no such operator (quantize_dynamic leaves them float32).

import { readFileSync } from 'node:fs';
import { MS_DOMAIN, onnxNode, onnxTensor, type PbMessage } from './onnx-proto';

/** Where the int8 weights get their scales: one per gate row (per output channel) or one per direction. */
export type Int8Scales = 'per-row' | 'per-direction';

/** How the int8 weights are stored in the model: int8 (zero point 0) or uint8 (the same values + 128, zero point 128). */
export type Int8WeightType = 'int8' | 'uint8';

/**
 * int8 where the CPU has a VNNI dot product, else uint8. Without VNNI, ONNX Runtime multiplies uint8 activations by
 * int8 weights with VPMADDUBSW, whose int16 pair sums saturate (255 x 127 x 2 > 32767): measured on an AVX2-only
 * AMD EPYC (Zen 3), its DynamicQuantizeLSTM then missed the quantized arithmetic by 5-17% (relative error), far above
 * int8's own error. With uint8 weights it takes its uint8 x uint8 path (VPMADDWD on int16, exact), so the model
 * computes what quantize_dynamic's int8 model means, at that CPU's speed for it.
 */
export function weightType(cpuFlags: string | null = readCpuFlags()): Int8WeightType {
  if (cpuFlags === null) return 'int8'; // not Linux: quantize_dynamic's own choice
  return /\b(avx512_vnni|avx_vnni)\b/.test(cpuFlags) ? 'int8' : 'uint8';
}

/**
 * The first processor's flags line of /proc/cpuinfo (the CPU as ONNX Runtime sees it, whatever NODE_RNN_SIMD says),
 * read once per process: every int8 model and the bench header ask.
 */
let cpuFlags: string | null | undefined;
function readCpuFlags(): string | null {
  if (cpuFlags !== undefined) return cpuFlags;
  try {
    cpuFlags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? null;
  } catch {
    cpuFlags = null;
  }
  return cpuFlags;
}

/** IEEE round-half-to-even, as numpy.round and ONNX Runtime round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // halves go up here
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Symmetric int8 of D matrices [rows, cols] (row-major, one after another): q = round(w / scale) with
 * scale = max|w| / 127 over each row ('per-row') or each matrix ('per-direction'), 1 where that is all zeros.
 */
export function quantizeSymmetric(w: Float32Array, D: number, rows: number, cols: number, scales: Int8Scales): { q: Int8Array; scale: Float32Array } {
  if (w.length !== D * rows * cols) throw new Error(`onnx-int8: ${w.length} weights, expected ${D} x ${rows} x ${cols}`);
  const group = scales === 'per-row' ? cols : rows * cols; // elements sharing a scale
  const scale = new Float32Array(w.length / group);
  const q = new Int8Array(w.length);
  for (let s = 0; s < scale.length; s++) {
    let absMax = 0;
    for (let i = s * group; i < (s + 1) * group; i++) absMax = Math.max(absMax, Math.abs(w[i]));
    scale[s] = absMax > 0 ? absMax / 127 : 1;
    for (let i = s * group; i < (s + 1) * group; i++) q[i] = Math.max(-127, Math.min(127, roundHalfEven(w[i] / scale[s])));
  }
  return { q, scale };
}

/** [D, rows, cols] -> [D, cols, rows]. */
function transposeEach(q: Int8Array, D: number, rows: number, cols: number): Int8Array {
  const out = new Int8Array(q.length);
  for (let d = 0; d < D; d++) {
    const base = d * rows * cols;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[base + c * rows + r] = q[base + r * cols + c];
  }
  return out;
}

/**
 * The DynamicQuantizeLSTM node of layer k and its initializers, from the float LSTM's W [D, 4H, I], R [D, 4H, H]
 * and B [D, 8H] in ONNX's gate order (i, o, f, c).
 */
export function dynamicQuantizeLstm(
  k: number, x: string, y: string, t: { W: Float32Array; R: Float32Array; B: Float32Array },
  dims: { D: number; H: number; I: number }, attributes: Record<string, string | number>, scales: Int8Scales,
  weights: Int8WeightType = weightType(),
): { node: PbMessage; initializers: PbMessage[] } {
  const { D, H, I } = dims;
  const G4 = 4 * H;
  const w = quantizeSymmetric(t.W, D, G4, I, scales);
  const r = quantizeSymmetric(t.R, D, G4, H, scales);
  const scaleDims = scales === 'per-row' ? [D, G4] : [D];
  const names = { W: `Wq_l${k}`, R: `Rq_l${k}`, B: `B_l${k}`, Ws: `W_scale_l${k}`, Wz: `W_zero_point_l${k}`, Rs: `R_scale_l${k}`, Rz: `R_zero_point_l${k}` };
  // uint8 weights hold the same values as q + 128 with zero point 128 (see weightType)
  const typed = (q: Int8Array): Int8Array | Uint8Array => (weights === 'uint8' ? Uint8Array.from(q, (v) => v + 128) : q);
  const zeros = (n: number): Int8Array | Uint8Array => (weights === 'uint8' ? new Uint8Array(n).fill(128) : new Int8Array(n));
  const initializers = [
    onnxTensor(names.W, [D, I, G4], typed(transposeEach(w.q, D, G4, I))),
    onnxTensor(names.R, [D, H, G4], typed(transposeEach(r.q, D, G4, H))),
    onnxTensor(names.B, [D, 2 * G4], t.B),
    onnxTensor(names.Ws, scaleDims, w.scale),
    onnxTensor(names.Wz, scaleDims, zeros(w.scale.length)),
    onnxTensor(names.Rs, scaleDims, r.scale),
    onnxTensor(names.Rz, scaleDims, zeros(r.scale.length)),
  ];
  const inputs = [x, names.W, names.R, names.B, '', '', '', '', names.Ws, names.Wz, names.Rs, names.Rz];
  return { node: onnxNode('DynamicQuantizeLSTM', inputs, [y], `DynamicQuantizeLSTM_l${k}`, attributes, MS_DOMAIN), initializers };
}
