// Deterministic shuffles and train/validation splits: the same seed gives the same order on every machine.
import { mulberry32 } from './rng.ts';

/** A shuffled copy (Fisher-Yates); the input is left as it was. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rng = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export interface Split<T> {
  train: T[];
  validation: T[];
}

/**
 * Shuffles with `seed`, then puts round(validationFraction * n) items in validation and the rest in train.
 * Each item lands in exactly one side.
 */
export function seededSplit<T>(items: readonly T[], options: { validationFraction: number; seed: number }): Split<T> {
  const { validationFraction: f, seed } = options;
  if (!(f >= 0 && f <= 1)) throw new RangeError(`seededSplit: validationFraction must be in [0, 1], got ${f}`);
  const shuffled = seededShuffle(items, seed);
  const nValidation = Math.round(f * shuffled.length);
  return { validation: shuffled.slice(0, nValidation), train: shuffled.slice(nValidation) };
}
