// Bit-for-bit comparison of module results (float32 words, or bfloat16 halves), and a spy on the addon's forward
// calls: what the packed-once specs (inference*.test.ts) compare and look into.
import { strict as assert } from 'node:assert';
import { Tensor } from '../../lib/index';
import { NativeForwardCall, native } from '../../lib/binding';

/** A tensor's bits whatever its dtype. */
export const bits = (t: Tensor): number[] =>
  t.data instanceof Uint16Array ? Array.from(t.data) : Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.numel));

const flat = (r: unknown): Tensor[] => (Array.isArray(r) ? r.flatMap(flat) : r instanceof Tensor ? [r] : []);

/** Every tensor in a and b (nested arrays of results) has the same dtype, shape and bits. */
export function sameBits(a: unknown, b: unknown, label: string): void {
  const x = flat(a), y = flat(b);
  assert.equal(x.length, y.length, `${label}: result count`);
  x.forEach((t, i) => {
    assert.equal(y[i].dtype, t.dtype, `${label}: dtype of result ${i}`);
    assert.deepEqual(y[i].shape, t.shape, `${label}: shape of result ${i}`);
    assert.deepEqual(bits(y[i]), bits(t), `${label}: result ${i}`);
  });
}

/** The native forward calls a function makes. */
export function nativeCalls(fn: () => unknown): NativeForwardCall[] {
  const seen: NativeForwardCall[] = [];
  const real = native.rnnForward;
  native.rnnForward = (call) => (seen.push(call), real(call));
  try {
    fn();
  } finally {
    native.rnnForward = real;
  }
  return seen;
}
