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

/** Mulberry32: small, fast, and good enough for dropout masks and weight init. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFeed(spec: IoSpec, seed: number, step: number): HostTensor {
  const rng = mulberry32(hashString(`${seed}:${step}:${spec.name}`));
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const data = spec.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng();
  return hostTensor(spec.dtype, spec.shape, data);
}
