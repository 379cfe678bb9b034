// Assertions on errors shared by the specs: the exact class (TypeError / RangeError / Error, not a subclass or a
// parent) and the message, equal to a string or matching a RegExp.
import { strict as assert } from 'node:assert';

export type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;

function checkError(e: unknown, cls: ErrorClass, message: string | RegExp): true {
  assert.ok(e instanceof Error, `expected an Error, got ${String(e)}`);
  assert.equal(e.constructor, cls, `expected ${cls.name} but got ${e.constructor.name}: ${e.message}`);
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
  return true;
}

/** `fn()` throws an error of exactly class `cls` whose message equals `message` (a string) or matches it. */
export function throwsExactly(fn: () => unknown, cls: ErrorClass, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => checkError(e, cls, message));
}

/** The promise `fn()` returns rejects with an error of exactly class `cls` and that message. */
export async function rejectsExactly(fn: () => Promise<unknown>, cls: ErrorClass, message: string | RegExp): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, 'expected a rejection');
  checkError(error, cls, message);
}

/** `s` with the RegExp metacharacters escaped. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
