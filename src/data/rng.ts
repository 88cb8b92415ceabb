// Seeded randomness for data order, so a run's batches can be reproduced from its seed alone.
// mulberry32: a 32-bit state generator (Tommy Ettinger), small and fast, good enough for shuffling and
// sampling offsets; not for cryptography.

export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n), without modulo bias; n must be a positive integer up to 2^32. */
  nextInt(n: number): number;
}

export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  const nextU32 = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    nextU32,
    next: () => nextU32() / 2 ** 32,
    nextInt(n: number) {
      if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) throw new RangeError(`nextInt: n must be an integer in 1..2^32, got ${n}`);
      // Reject draws from the incomplete last block of size n so every residue is equally likely.
      const limit = 2 ** 32 - (2 ** 32 % n);
      for (;;) {
        const x = nextU32();
        if (x < limit) return x % n;
      }
    },
  };
}
