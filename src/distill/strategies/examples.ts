// Fixed training examples cut from a token stream, for steps that label or look up each example
// (an offline store keys its records by the example's tokens), and seeds derived per batch so a
// resumed run draws what the uninterrupted one would have.
import { mulberry32, type Rng } from '../../data/rng.ts';
import { hostTensor } from '../../runtime/index.ts';
import type { Json } from '../checkpoint/index.ts';
import type { Batch, DataSource } from '../trainer/index.ts';

/** A generator for item `index` of a stream seeded with `seed` (any item reachable without replaying the earlier ones). */
export function rngAt(seed: number, index: number, salt = 0): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9 ^ Math.imul(salt, 0x27d4eb2d), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ (index >>> 0), 0xc2b2ae35);
  return mulberry32((h ^ (h >>> 16) ^ Math.floor(index / 2 ** 32)) >>> 0);
}

export interface Windows {
  /** Where each example starts in the stream; it reads seq + 1 tokens (inputs and shifted labels). */
  starts: number[];
  /** Each example's input tokens (seq of them): what a teacher labels and a store is keyed by. */
  inputs: Int32Array[];
  seq: number;
}

/** Examples every `stride` tokens (default seq: no overlap), at most `max` of them. */
export function windowExamples(ids: Int32Array, seq: number, o: { stride?: number; max?: number } = {}): Windows {
  const stride = o.stride ?? seq;
  if (!Number.isInteger(stride) || stride < 1)
    throw new RangeError(`examples: stride must be a positive integer, got ${stride}`);
  const starts: number[] = [];
  for (let s = 0; s + seq + 1 <= ids.length && starts.length < (o.max ?? Infinity); s += stride) starts.push(s);
  if (starts.length === 0)
    throw new RangeError(
      `examples: ${ids.length} tokens make no example of seq + 1 = ${seq + 1} tokens; use more text or a smaller seq`,
    );
  return { starts, inputs: starts.map((s) => ids.slice(s, s + seq)), seq };
}

/** Rows of random examples (seeded per batch), feeding input_ids and labels. The cursor is {seed, index}. */
export function exampleSource(ids: Int32Array, w: Windows, o: { batch: number; seed: number }): DataSource {
  const { seq } = w;
  const make = (index: number): Batch => {
    const rng = rngAt(o.seed, index);
    const x = new BigInt64Array(o.batch * seq),
      y = new BigInt64Array(o.batch * seq);
    for (let r = 0; r < o.batch; r++) {
      const s = w.starts[rng.nextInt(w.starts.length)]!;
      for (let t = 0; t < seq; t++) {
        x[r * seq + t] = BigInt(ids[s + t]!);
        y[r * seq + t] = BigInt(ids[s + t + 1]!);
      }
    }
    return { input_ids: hostTensor('int64', [o.batch, seq], x), labels: hostTensor('int64', [o.batch, seq], y) };
  };
  return {
    inputs: { input_ids: { shape: [o.batch, seq], dtype: 'int64' }, labels: { shape: [o.batch, seq], dtype: 'int64' } },
    open(cursor?: Json) {
      let index = 0;
      if (cursor !== undefined) {
        const c = cursor as { seed?: unknown; index?: unknown };
        if (typeof c !== 'object' || c === null || c.seed !== o.seed || !Number.isSafeInteger(c.index)) {
          throw new Error(
            `examples: cursor ${JSON.stringify(cursor)} was not made by this source (seed ${o.seed}); resume with the same data and seed`,
          );
        }
        index = c.index as number;
      }
      return { next: () => make(index++), cursor: () => ({ seed: o.seed, index }) };
    },
  };
}
