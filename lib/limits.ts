// The allocation cap: a request whose sizes would need more memory than the limit is refused with a RangeError
// before anything is allocated, instead of hanging the machine in swap or being killed by the OOM killer.
// One limit per process, checked per request (a forward's outputs and saved activations together, one factory
// tensor, one device copy); it is not a running total of what is alive.
import * as os from 'node:os';
import { describe } from './checks';

const ENV = 'NODE_RNN_MAX_BYTES';
const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Half the machine's memory: one request may not take more, which leaves room for the process and the OS. */
function defaultLimit(): number {
  return Math.floor(os.totalmem() / 2);
}

/** Bytes from `4294967296`, `4GiB`, `512m`, `1.5 GB` (binary units either way). */
export function parseBytes(name: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new RangeError(`Expected a positive byte count such as 4294967296 or 4GiB for ${name} but received ${JSON.stringify(text)}`);
  }
  return bytes;
}

function initialLimit(): number {
  const env = process.env[ENV];
  return env === undefined || env === '' ? defaultLimit() : parseBytes(ENV, env);
}

let limit = initialLimit();

/** `1.5 GiB`, `512 MiB`, `12 KiB`, `100 B`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes} B`;
  for (const [unit, size] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} B`;
}

/**
 * Sets the largest allocation one request may make, in bytes (default: half of the machine's memory, or
 * NODE_RNN_MAX_BYTES); `Infinity` turns the check off.
 */
export function setMemoryLimit(bytes: number): void {
  if (typeof bytes !== 'number' || Number.isNaN(bytes)) throw new TypeError(`Expected a number of bytes for bytes but received ${describe(bytes)}`);
  if (bytes <= 0 || (Number.isFinite(bytes) && !Number.isInteger(bytes))) {
    throw new RangeError(`Expected a positive integer (or Infinity) for bytes but received ${bytes}`);
  }
  limit = bytes;
}

/** The current limit in bytes (see `setMemoryLimit`). */
export function getMemoryLimit(): number {
  return limit;
}

/**
 * Throws a RangeError naming `what` and each part's size when the parts together exceed the limit. Sizes are
 * in bytes and may exceed 2^53 (a shape's product), so they are compared as doubles: only the order matters.
 */
export function checkAllocation(what: string, parts: readonly (readonly [label: string, bytes: number])[]): void {
  const total = parts.reduce((sum, [, bytes]) => sum + bytes, 0);
  if (total <= limit) return;
  const detail = parts.filter(([, bytes]) => bytes > 0).map(([label, bytes]) => `${label} ${formatBytes(bytes)}`);
  throw new RangeError(
    `node-rnn: ${what} needs ${formatBytes(total)}${detail.length > 1 ? ` (${detail.join(', ')})` : ''}, ` +
      `more than the memory limit of ${formatBytes(limit)} (setMemoryLimit() / ${ENV})`,
  );
}

/** `checkAllocation` for one tensor of `numel` elements of `itemSize` bytes. */
export function checkTensorAllocation(what: string, numel: number, itemSize = 4): void {
  checkAllocation(what, [[what, numel * itemSize]]);
}

export interface RecurrenceSizes {
  /** An LSTM's final state has a cell state too. */
  lstm: boolean;
  /** Rows of the input (T * B, or the packed rows). */
  rows: number;
  batch: number;
  layers: number;
  directions: number;
  hiddenSize: number;
  /** projSize when projecting, else hiddenSize. */
  outSize: number;
  /** Floats the call saves for backward (native.rnnSavedSize, whose layout is native code's); 0 when not recording. */
  savedFloats: number;
}

/** Refuses a recurrent forward (`what`, e.g. `LSTM.forward`) whose results and saved activations exceed the limit. */
export function checkRecurrenceAllocation(what: string, s: RecurrenceSizes): void {
  const { rows, batch: B, layers: L, directions: D, hiddenSize: H, outSize: P } = s;
  checkAllocation(what, [
    ['output', 4 * rows * D * P],
    ['final state', 4 * L * D * B * (P + (s.lstm ? H : 0))],
    ['saved activations', 4 * s.savedFloats],
  ]);
}
