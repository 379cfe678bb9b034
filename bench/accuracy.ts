// The accuracy columns: how far an output is from node-rnn float32's output on the same weights and input, as the
// largest absolute difference and the relative error of the whole output (‖y − y32‖ / ‖y32‖, bench/timing.ts).

import { relativeError } from './timing';

export interface Accuracy {
  maxAbsErr: number;
  relErr: number;
}

/** Both errors of `actual` against `reference`; Infinity for a length mismatch or a NaN. */
export function accuracy(actual: ArrayLike<number>, reference: ArrayLike<number>): Accuracy {
  if (actual.length !== reference.length) return { maxAbsErr: Infinity, relErr: Infinity };
  let maxAbsErr = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(actual[i] - reference[i]);
    if (!(d <= maxAbsErr)) maxAbsErr = Number.isNaN(d) ? Infinity : d;
    if (maxAbsErr === Infinity) break;
  }
  return { maxAbsErr, relErr: relativeError(actual, reference) };
}
