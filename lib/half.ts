// float16 and bfloat16 on the host: Node 20 has no Float16Array, so half-precision tensors keep their raw
// 16-bit patterns in a Uint16Array (the bytes a GPU or a safetensors file holds) and convert at the edges.
// Rounding is to nearest, ties to even, from the float32 value, as PyTorch's c10::Half / c10::BFloat16 do
// (a JS number is first rounded to float32, as PyTorch's scalar-to-half conversion goes through float).
// NaN becomes the canonical quiet NaN of each type (0x7e00 for float16, 0x7fc0 for bfloat16, as c10 writes
// them; c10 keeps a NaN's sign for float16, dropped here because a JS NaN's sign bit is not observable).

export type HalfDType = 'float16' | 'bfloat16';
export type FloatDType = 'float32' | HalfDType;

export function isHalfDType(dtype: string): dtype is HalfDType {
  return dtype === 'float16' || dtype === 'bfloat16';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float16 bits of the float32 whose bits are `u` (round to nearest even; overflow to infinity). */
function float16FromBits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return 0x7e00;
  // 65520 = 65504 + half an ulp: from there on the nearest value is infinity
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a >= 0x38800000) {
    // normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits
    const m = a - 0x38000000;
    return sign | ((m + 0xfff + ((m >>> 13) & 1)) >>> 13);
  }
  // subnormal (units of 2^-24) or zero; 2^-25 and below round to zero (a tie goes to the even 0)
  if (a <= 0x33000000) return sign;
  const exponent = a >>> 23;
  const mantissa = (a & 0x7fffff) | 0x800000;
  const shift = 126 - exponent;
  let q = mantissa >>> shift;
  const rest = mantissa & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (q & 1) === 1)) q++;
  return sign | q;
}

/** bfloat16 bits of the float32 whose bits are `u`: its top half, rounded to nearest even. */
function bfloat16FromBits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The exact value of float16 bits. */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** The exact value of bfloat16 bits (the top half of a float32). */
export function bfloat16ToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

/** float16 bits nearest to `x` (rounded to float32 first). */
export function numberToFloat16(x: number): number {
  f32[0] = x;
  return float16FromBits(u32[0]);
}

/** bfloat16 bits nearest to `x` (rounded to float32 first). */
export function numberToBfloat16(x: number): number {
  f32[0] = x;
  return bfloat16FromBits(u32[0]);
}

export function numberToHalf(dtype: HalfDType, x: number): number {
  return dtype === 'float16' ? numberToFloat16(x) : numberToBfloat16(x);
}

export function halfToNumber(dtype: HalfDType, bits: number): number {
  return dtype === 'float16' ? float16ToNumber(bits) : bfloat16ToNumber(bits);
}

/** The float32 values of `source` as `dtype` bits, in a new Uint16Array. */
export function toHalfArray(source: Float32Array, dtype: HalfDType): Uint16Array {
  // the float32 bit patterns, read in place
  const bits = new Uint32Array(source.buffer, source.byteOffset, source.length);
  const out = new Uint16Array(source.length);
  const convert = dtype === 'float16' ? float16FromBits : bfloat16FromBits;
  for (let i = 0; i < out.length; i++) out[i] = convert(bits[i]);
  return out;
}

/** The values of `dtype` bits as float32 (exact: every half value is a float32), in a new Float32Array. */
export function fromHalfArray(source: Uint16Array, dtype: HalfDType): Float32Array {
  const out = new Float32Array(source.length);
  if (dtype === 'bfloat16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) bits[i] = source[i] << 16;
  } else {
    for (let i = 0; i < out.length; i++) out[i] = float16ToNumber(source[i]);
  }
  return out;
}

/** Host memory of a floating tensor of `from` as `to` (a new array; float32 to float32 copies). */
export function convertHostFloats(source: Float32Array | Uint16Array, from: FloatDType, to: FloatDType): Float32Array | Uint16Array {
  if (from === to) return source.slice();
  const wide = from === 'float32' ? (source as Float32Array) : fromHalfArray(source as Uint16Array, from);
  return to === 'float32' ? wide : toHalfArray(wide, to);
}
