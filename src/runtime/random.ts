// Seeded noise for `random` leaves (dropout). The executor, not the graph, draws it, so the
// reference interpreter and onnxruntime see identical masks, and a resumed run (same seed, same
// step) sees the same masks it would have seen without the interruption.
import type { IoSpec } from '../onnx/lower.ts';
import { hostTensor, type HostTensor } from './host.ts';

/** SplitMix32-style hash of a string: turns a site name into part of the stream's seed. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n), without modulo bias; n must be a positive integer up to 2^32. */
  nextInt(n: number): number;
}

/** mulberry32 (Tommy Ettinger): a 32-bit state generator, small and fast; not for cryptography. */
export function rng32(seed: number): Rng {
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
      if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32)
        throw new RangeError(`nextInt: n must be an integer in 1..2^32, got ${n}`);
      // Reject draws from the incomplete last block of size n so every residue is equally likely.
      const limit = 2 ** 32 - (2 ** 32 % n);
      for (;;) {
        const x = nextU32();
        if (x < limit) return x % n;
      }
    },
  };
}

/** Uniform floats in [0, 1) from mulberry32: dropout masks, weight init, sampling. */
export function mulberry32(seed: number): () => number {
  return rng32(seed).next;
}

export function randomFeed(spec: IoSpec, seed: number, step: number): HostTensor {
  const rng = mulberry32(hashString(`${seed}:${step}:${spec.name}`));
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const data = spec.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng();
  return hostTensor(spec.dtype, spec.shape, data);
}
