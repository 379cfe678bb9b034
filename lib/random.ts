// The one seeded generator behind factories, parameter initialisation and dropout masks,
// like PyTorch's default CPU generator: `manualSeed(n)` makes everything after it reproducible.
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat32 } from 'pure-rand/distribution/uniformFloat32';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { checkInteger } from './checks';

// xoroshiro128+ seeded directly from a small integer starts in a low-entropy state (its first outputs
// barely depend on the seed), so the seed is spread over the 128-bit state by a splitmix32 mix first.
function splitmix32(value: number): number {
  let t = (value + 0x9e3779b9) | 0;
  t = Math.imul(t ^ (t >>> 16), 0x21f0aaad);
  t = Math.imul(t ^ (t >>> 15), 0x735a2d97);
  return (t ^ (t >>> 15)) | 0;
}

function seeded(seed: number): RandomGenerator {
  const state: number[] = [0, 1, 2, 3].map((i) => splitmix32(seed * 4 + i));
  if (!state.some((v) => v !== 0)) state[0] = 1; // the all-zero state is a fixed point
  return xoroshiro128plusFromState(state);
}

let generator: RandomGenerator = seeded((Date.now() ^ (Math.random() * 0x7fffffff)) | 0);

/** Seeds the generator used by `rand`, `randn`, parameter initialisation and dropout. */
export function manualSeed(seed: number): void {
  checkInteger('seed', seed, { min: Number.MIN_SAFE_INTEGER });
  generator = seeded(Number(BigInt.asIntN(32, BigInt(seed))));
}

/** Uniform in [0, 1), 24 random bits (a float32-exact value). */
export function nextUniform(): number {
  return uniformFloat32(generator);
}

/** Standard normal by Box-Muller; one draw per call keeps the sequence simple to reason about. */
export function nextNormal(): number {
  const u1 = 1 - nextUniform(); // (0, 1]: log stays finite
  const u2 = nextUniform();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** A 32-bit seed for native code that draws its own numbers (dropout masks). */
export function nextSeed(): number {
  return generator.next() >>> 0;
}
