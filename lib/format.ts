// PyTorch's tensor repr, ported from torch/_tensor_str.py (`_Formatter`, `_vector_str`,
// `_tensor_str_with_formatter`, `_str_intern`) with the default print options, so that printed
// tensors can be compared character for character with PyTorch's output.
import { contiguous, numel } from './shape';

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGEITEMS = 3;
const LINEWIDTH = 80;

type Value = number | bigint;

/** The double `x` (finite, sign dropped) as an exact fraction n / d. */
function exactFraction(x: number): [bigint, bigint] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exponent = -1074; // subnormal
  if (biased !== 0) {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  return exponent >= 0 ? [mantissa << BigInt(exponent), 1n] : [mantissa, 1n << BigInt(-exponent)];
}

/** round(n / d * 10^shift), ties to even, as Python's float formatting rounds the exact binary value. */
function roundScaled(n: bigint, d: bigint, shift: number): bigint {
  if (shift >= 0) n *= 10n ** BigInt(shift);
  else d *= 10n ** BigInt(-shift);
  const q = n / d;
  const twice = 2n * (n - q * d);
  return twice > d || (twice === d && (q & 1n) === 1n) ? q + 1n : q;
}

function nonFinite(x: number): string | undefined {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return undefined;
}

// Python keeps the sign of -0.0 ('-0.0000'), which `x < 0` alone would miss.
const signOf = (x: number): string => (x < 0 || Object.is(x, -0) ? '-' : '');

/** Python's `'{:.<digits>f}'.format(x)`; JS `toFixed` rounds ties away from zero instead of to even. */
export function pyFixed(x: number, digits: number): string {
  const special = nonFinite(x);
  if (special !== undefined) return special;
  const [n, d] = exactFraction(x);
  const s = roundScaled(n, d, digits).toString().padStart(digits + 1, '0');
  return signOf(x) + (digits > 0 ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s);
}

/** Python's `'{:.<digits>e}'.format(x)`. */
export function pyExponential(x: number, digits: number): string {
  const special = nonFinite(x);
  if (special !== undefined) return special;
  let exponent = 0;
  let m = 0n;
  if (x !== 0) {
    const [n, d] = exactFraction(x);
    // Math.log10 may be off by one near powers of ten; settle 10^e <= |x| < 10^(e+1) exactly.
    const atLeastPow10 = (e: number) => (e >= 0 ? n >= d * 10n ** BigInt(e) : n * 10n ** BigInt(-e) >= d);
    exponent = Math.floor(Math.log10(Math.abs(x)));
    while (!atLeastPow10(exponent)) exponent--;
    while (atLeastPow10(exponent + 1)) exponent++;
    m = roundScaled(n, d, digits - exponent);
    if (m === 10n ** BigInt(digits + 1)) {
      m /= 10n; // rounding carried into a new digit, e.g. 9.99995 -> 1.0000e+01
      exponent++;
    }
  }
  const s = m.toString().padStart(digits + 1, '0');
  const mantissa = digits > 0 ? `${s[0]}.${s.slice(1)}` : s;
  const e = `${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  return `${signOf(x)}${mantissa}e${e}`;
}

/** `_Formatter`: one notation and one column width for every element printed. */
class Formatter {
  private intMode = true;
  private sciMode = false;
  readonly width: number = 1;

  constructor(private readonly floating: boolean, values: readonly Value[]) {
    if (!floating) {
      this.width = Math.max(1, ...values.map((v) => String(v).length));
      return;
    }
    // nan, inf and zeros take no part in choosing the notation or the width.
    const finite = (values as number[]).filter((v) => Number.isFinite(v) && v !== 0);
    if (finite.length === 0) return;
    const abs = finite.map(Math.abs);
    const min = Math.min(...abs);
    const max = Math.max(...abs);
    this.intMode = finite.every((v) => v === Math.ceil(v));
    this.sciMode = max / min > 1000 || max > 1e8 || (!this.intMode && min < 1e-4);
    // In int mode the trailing '.' counts towards the width.
    const widthOf = (v: number) =>
      this.sciMode ? pyExponential(v, PRECISION).length : this.intMode ? pyFixed(v, 0).length + 1 : pyFixed(v, PRECISION).length;
    this.width = Math.max(1, ...finite.map(widthOf));
  }

  format(value: Value): string {
    let s: string;
    if (!this.floating) s = String(value);
    else {
      const x = value as number;
      if (this.sciMode) s = pyExponential(x, PRECISION);
      else if (this.intMode) s = pyFixed(x, 0) + (Number.isFinite(x) ? '.' : '');
      else s = pyFixed(x, PRECISION);
    }
    return s.padStart(this.width);
  }
}

/** Indices printed along a dimension; null stands for the '...' of a summarised dimension. */
function shownIndices(size: number, summarize: boolean): (number | null)[] {
  const all = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  if (summarize && size > 2 * EDGEITEMS) return [...all(0, EDGEITEMS), null, ...all(size - EDGEITEMS, size)];
  return all(0, size);
}

/** `_add_suffixes`: appends `, suffix` entries, moving one to a new line if it would pass the line width. */
export function addSuffixes(str: string, suffixes: readonly string[], indent: number): string {
  let out = str;
  let lastLineLength = str.length - str.lastIndexOf('\n') + 1;
  for (const suffix of suffixes) {
    if (lastLineLength + suffix.length + 2 > LINEWIDTH) {
      out += `,\n${' '.repeat(indent)}${suffix}`;
      lastLineLength = indent + suffix.length;
    } else {
      out += `, ${suffix}`;
      lastLineLength += suffix.length + 2;
    }
  }
  return `${out})`;
}

/**
 * What PyTorch's `repr(t)` prints for a contiguous tensor with this data, shape and dtype (default print
 * options, no grad_fn). float16/bfloat16 values come widened to float32 (exact); `leading` suffixes (the
 * device of a CUDA tensor) come first, as in `_str_intern`. Like PyTorch, a non-empty tensor shows its dtype
 * unless it is float32 (the default) or int64 (inferred from the values).
 */
export function formatTensor(data: Float32Array | BigInt64Array, shape: readonly number[], dtype: 'float32' | 'float16' | 'bfloat16' | 'int64',
  leading: readonly string[] = []): string {
  const prefix = 'tensor(';
  const indent = prefix.length;
  const ndim = shape.length;
  const count = numel(shape);
  if (count !== data.length) throw new RangeError(`shape [${shape.join(', ')}] is invalid for input of size ${data.length}`);

  if (count === 0) {
    const suffixes: string[] = [...leading];
    // Like NumPy, the shape is shown unless it is (0,); with no elements the dtype cannot be inferred
    // from them, so any non-default dtype (int64 included) is shown.
    if (ndim !== 1) suffixes.push(`size=(${shape.join(', ')})`);
    if (dtype !== 'float32') suffixes.push(`dtype=torch.${dtype}`);
    return addSuffixes(`${prefix}[]`, suffixes, indent);
  }

  const strides = contiguous(shape);
  const summarize = count > THRESHOLD;

  // The formatter sees only the elements that will be printed (`get_summarized_data`).
  const shown: Value[] = [];
  const collect = (offset: number, dim: number): void => {
    if (dim === ndim) shown.push(data[offset]);
    else for (const i of shownIndices(shape[dim], summarize)) if (i !== null) collect(offset + i * strides[dim], dim + 1);
  };
  collect(0, 0);
  const formatter = new Formatter(dtype !== 'int64', shown);

  const render = (offset: number, dim: number, indent: number): string => {
    if (dim === ndim) return formatter.format(data[offset]);
    const indices = shownIndices(shape[dim], summarize);
    if (dim === ndim - 1) {
      const items = indices.map((i) => (i === null ? ' ...' : formatter.format(data[offset + i])));
      // Each element takes its width plus ', '.
      const perLine = Math.max(1, Math.floor((LINEWIDTH - indent) / (formatter.width + 2)));
      const lines: string[] = [];
      for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
      return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
    }
    const slices = indices.map((i) => (i === null ? '...' : render(offset + i * strides[dim], dim + 1, indent + 1)));
    // Sub-tensors of higher dimension are set apart by more blank lines.
    return `[${slices.join(`,${'\n'.repeat(ndim - dim - 1)}${' '.repeat(indent + 1)}`)}]`;
  };
  const dtypeSuffix = dtype === 'float32' || dtype === 'int64' ? [] : [`dtype=torch.${dtype}`];
  return addSuffixes(prefix + render(0, 0, indent), [...leading, ...dtypeSuffix], indent);
}
