// Generators of the fuzz tests' arguments: mostly small valid values (so most runs reach native code), mixed
// with every kind of wrong one.
import fc from 'fast-check';

/** Values that are never a valid argument of any kind. */
export const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(undefined, null, NaN, Infinity, -Infinity, -1, 0, 1.5, -0.5, 2 ** 31, 2 ** 53, 1e300, '', '3', 'abc', true, false, 3n),
  fc.constantFrom<unknown>({}, [], [[]], Symbol('s'), () => 1, new Date(0), new Uint8Array(4), new Float64Array(2), Object.create(null)),
  fc.string({ maxLength: 4 }),
  fc.double(),
);

/** A size option: usually small and valid, sometimes huge (the memory limit's case) or junk. */
export const sizeOption = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 6 }) },
  { weight: 1, arbitrary: fc.integer({ min: 100_000, max: 2 ** 40 }) },
  { weight: 2, arbitrary: junk },
);

export const boolOption = fc.oneof({ weight: 5, arbitrary: fc.boolean() }, { weight: 1, arbitrary: junk });

/** Finite values, sometimes with NaN or ±Infinity mixed in. */
export function values(n: number, special: boolean): fc.Arbitrary<number[]> {
  const finite = fc.float({ min: -3, max: 3, noNaN: true, noDefaultInfinity: true });
  const item = special
    ? fc.oneof({ weight: 8, arbitrary: finite }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) })
    : finite;
  return fc.array(item, { minLength: n, maxLength: n });
}

/** Non-negative integer dims, sometimes with a 0. */
export const smallShape = (maxRank: number, maxDim = 4): fc.Arbitrary<number[]> =>
  fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: maxDim }) }, { weight: 1, arbitrary: fc.constant(0) }), { maxLength: maxRank });

/** Any shape argument: small valid, huge (beyond any memory), or invalid entries. */
export const anyShape: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: smallShape(4) },
  { weight: 2, arbitrary: fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1e5, max: 2 ** 52 })), { minLength: 1, maxLength: 5 }) },
  { weight: 2, arbitrary: fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), junk), { minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: junk },
);

/** Device arguments: the CPU, CUDA ones (valid only where a GPU is), and junk. */
export const deviceArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('cpu') },
  { weight: 2, arbitrary: fc.constantFrom('cuda', 'cuda:0', 'cuda:1', 'cuda:99', 'cuda:-1', 'cuda:x', 'gpu', 'CPU', 'cpu:0') },
  { weight: 1, arbitrary: junk },
);

/** What a tensor argument may be: a good one (built by the caller), a twisted copy, or not a tensor at all. */
export type TensorCase = 'good' | 'disposed' | 'int64' | 'wrongShape' | 'wrongRank' | 'nan' | 'array' | 'junk';
export const tensorCase = (goodWeight = 12): fc.Arbitrary<TensorCase> => fc.oneof(
  { weight: goodWeight, arbitrary: fc.constant<TensorCase>('good') },
  { weight: 1, arbitrary: fc.constantFrom<TensorCase>('disposed', 'int64', 'wrongShape', 'wrongRank', 'nan', 'array', 'junk') },
);

/** A small deterministic generator for values a property derives from one seed (constants, directions). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 * 2 - 1;
  };
}
