// Symmetric per-row int8 quantization of a weight matrix, the same rounding as the native kernels' activations
// (native/cpu/int8_step.cpp): scale = max|row| / 127, q = round-half-even(w * (127 / max|row|)), in float32.
import { native } from '../binding';
import { QuantizedMatrix } from './state';

/** The int32 sums of the int8 dot products stay exact up to this many columns (native kMaxInt8K). */
export const MAX_INT8_COLUMNS = 65536;

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return d > 0.5 ? f + 1 : f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * values [rows, cols] (finite) to int8 values and one float32 scale per row. A row whose largest magnitude is 0 (or
 * so small that 127 / max overflows float32) gets scale 0 and zeros.
 */
export function quantizeRows(values: Float32Array, rows: number, cols: number): { values: Int8Array; scales: Float32Array } {
  const q = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = 0;
    for (let k = 0; k < cols; k++) max = Math.max(max, Math.abs(values[base + k]));
    // float32 arithmetic: a quotient or product of two float32 values rounds the same in float64 then float32
    const inv = Math.fround(127 / max);
    if (!Number.isFinite(inv)) continue;
    scales[r] = Math.fround(max / 127);
    for (let k = 0; k < cols; k++) q[base + k] = roundHalfEven(Math.fround(values[base + k] * inv));
  }
  return { values: q, scales };
}

/** W[r, k] as the quantized matrix represents it: values * scale. */
export function dequantize(m: QuantizedMatrix): Float32Array {
  const out = new Float32Array(m.values.length);
  for (let r = 0; r < m.gates * m.n; r++) {
    const s = m.scales[r];
    for (let k = 0; k < m.k; k++) out[r * m.k + k] = m.values[r * m.k + k] * s;
  }
  return out;
}

/** A quantized matrix with its packing for this CPU (int8 values and scales as given, not copied). */
export function quantizedMatrix(name: string, gates: number, n: number, k: number, values: Int8Array, scales: Float32Array): QuantizedMatrix {
  return { name, gates, n, k, values, scales, packed: native.int8Pack(gates, n, k, values, scales) };
}
