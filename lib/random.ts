// The one seeded generator behind factories, parameter initialisation and dropout masks,
// like PyTorch's default CPU generator: `manualSeed(n)` makes everything after it reproducible.
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat32 } from 'pure-rand/distribution/uniformFloat32';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { checkInteger } from './checks';

let generator: RandomGenerator = xoroshiro128plus((Date.now() ^ (Math.random() * 0x7fffffff)) | 0);

/** Seeds the generator used by `rand`, `randn`, parameter initialisation and dropout. */
export function manualSeed(seed: number): void {
  checkInteger('seed', seed, { min: Number.MIN_SAFE_INTEGER });
  generator = xoroshiro128plus(Number(BigInt.asIntN(32, BigInt(seed))));
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
