// What every fuzzed call must do: return a result (checked by the caller) or throw a JS Error of a documented
// class with a message of its own. A crash of the addon kills mocha, so it fails the run by itself.
import fc from 'fast-check';

/** FUZZ_RUNS=N runs every property N times (the long run); otherwise each uses its own small default. */
function runsFromEnv(): number | undefined {
  const text = process.env.FUZZ_RUNS;
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`Expected a positive integer for FUZZ_RUNS but received ${JSON.stringify(text)}`);
  return n;
}

const envRuns = runsFromEnv();
/**
 * The seed: fixed by default, so that `npm test` (and CI) is deterministic; FUZZ_SEED=N replays a failure
 * (fast-check prints the seed and path); FUZZ_SEED=random draws a new one each run (the exploring long run).
 */
const DEFAULT_SEED = 20261126;
const envSeed = process.env.FUZZ_SEED === 'random' ? undefined
  : process.env.FUZZ_SEED === undefined || process.env.FUZZ_SEED === '' ? DEFAULT_SEED : Number(process.env.FUZZ_SEED);
const envPath = process.env.FUZZ_PATH;

export const totals = { runs: 0, results: 0, errors: 0 };

export function fuzzParams(defaultRuns: number): fc.Parameters<unknown> {
  return {
    numRuns: envRuns ?? defaultRuns,
    ...(envSeed !== undefined ? { seed: envSeed } : {}),
    ...(envPath !== undefined ? { path: envPath } : {}),
  };
}

// Engine messages that mean a bad argument reached code that never checked it: a missing validation, not a
// "clear JS error naming the argument".
const LEAKED = [
  /Cannot read properties of/, /Cannot set properties of/, /is not a function/, /is not iterable/, /is not a constructor/,
  /Invalid typed array length/, /Invalid array length/, /Array buffer allocation failed/, /Maximum call stack/,
  /cannot be converted to a BigInt/, /Cannot convert .* to a BigInt/, /Cannot mix BigInt/, /Start offset .* is outside the bounds/,
  /Offset is outside the bounds of the DataView/, /Invalid DataView length/, /must be a multiple of/,
];
const ALLOWED = new Set<unknown>([Error, TypeError, RangeError]);

/** Asserts `e` is an acceptable refusal and returns it. */
export function checkRefusal(e: unknown, where: string): Error {
  if (!(e instanceof Error)) throw new Error(`${where} threw a non-Error: ${String(e)}`);
  if (!ALLOWED.has(e.constructor)) throw new Error(`${where} threw a ${e.constructor.name} (expected Error, TypeError or RangeError): ${e.message}`);
  if (typeof e.message !== 'string' || e.message.trim() === '') throw new Error(`${where} threw a ${e.name} without a message`);
  for (const pattern of LEAKED) {
    if (pattern.test(e.message)) throw new Error(`${where} leaked an engine error instead of a validation error: ${e.name}: ${e.message}`);
  }
  return e;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

/** Runs `fn`, counting it; a throw must be an acceptable refusal. */
export function settle<T>(where: string, fn: () => T): Outcome<T> {
  totals.runs++;
  try {
    const value = fn();
    totals.results++;
    return { ok: true, value };
  } catch (e) {
    totals.errors++;
    return { ok: false, error: checkRefusal(e, where) };
  }
}

export async function settleAsync<T>(where: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  totals.runs++;
  try {
    const value = await fn();
    totals.results++;
    return { ok: true, value };
  } catch (e) {
    totals.errors++;
    return { ok: false, error: checkRefusal(e, where) };
  }
}

export function closeTo(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : Number.isFinite(e) ? Math.abs(a - e) <= tol * (1 + Math.abs(e)) : a === e;
    if (!ok) {
      throw new Error(`${what}[${i}] = ${a}, expected ${e} (tolerance ${tol})`);
    }
  }
}

export function sameShapeAs(actual: readonly number[], expected: readonly number[], what: string): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new Error(`${what}: shape [${actual.join(', ')}], expected [${expected.join(', ')}]`);
  }
}

/** A label for any value, including ones String() cannot convert (symbols, null-prototype objects). */
export function show(value: unknown): string {
  try {
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value === 'symbol' || typeof value === 'function') return String(value);
    const json = JSON.stringify(value);
    return json === undefined ? String(value) : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
