// Argument validation with one phrasing for every error:
// "Expected <what> for <name> but received <value>" (TypeError for wrong kinds, RangeError for bad values).

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'function') return 'a function';
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

export function checkInteger(name: string, value: unknown, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`Expected ${min === 1 ? 'positive ' : ''}integer for ${name} but received ${describe(value)}`);
  }
  if (value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new RangeError(`Expected integer ${range} for ${name} but received ${value}`);
  }
  return value;
}

/** Any integer, for values whose range the caller checks with its own message (a dim against ndim, an index). */
export function checkAnyInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`Expected integer for ${name} but received ${describe(value)}`);
  return value;
}

/** Any number (NaN and infinities included, as PyTorch's scalar arguments such as alpha take them). */
export function checkNumber(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`Expected number for ${name} but received ${describe(value)}`);
  return value;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`Expected boolean for ${name} but received ${describe(value)}`);
  return value;
}

export function checkNumberInRange(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`Expected number for ${name} but received ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`Expected number in [${min}, ${max}] for ${name} but received ${value}`);
  }
  return value;
}

export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new RangeError(`Expected one of ${allowed.map((a) => `'${a}'`).join(', ')} for ${name} but received ${describe(value)}`);
  }
  return value as T;
}

export function checkShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`Expected an array of non-negative integers for ${name} but received ${describe(shape)}`);
  shape.forEach((d, i) => checkInteger(`${name}[${i}]`, d, { min: 0 }));
  return shape.slice() as number[];
}

/** Rejects unknown option keys, so a typo such as `hiddenSise` is not silently ignored. */
export function checkOptions(name: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`Expected an options object for ${name} but received ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown option ${JSON.stringify(key)} for ${name}; expected one of ${known.join(', ')}`);
    }
  }
  return options as Record<string, unknown>;
}

/** A shape as PyTorch lists it in messages: `[2, 3, 20]`. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
