// What the trainer reads batches from. A training source is an endless stream with a cursor that
// serializes to JSON: a checkpoint stores it, and open(cursor) continues with exactly the batch the
// interrupted run would have read next. Evaluation sources are finite and the same every time.
import type { DType } from '../../graph/index.ts';
import { mulberry32 } from '../../data/rng.ts';
import { hostTensor, type HostTensor } from '../../runtime/index.ts';
import type { Json } from '../checkpoint/index.ts';

/** Feeds for one batch, by input name. */
export type Batch = Record<string, HostTensor>;

export interface InputSpec {
  shape: number[];
  dtype: DType;
}

export interface BatchStream {
  next(): Batch;
  /** Where the stream stands: `open(cursor())` yields the batch `next()` would return now. Plain JSON. */
  cursor(): Json;
}

export interface DataSource {
  /** The symbolic inputs each batch feeds (names, shapes, dtypes); the training graph is traced on them. */
  readonly inputs: Readonly<Record<string, InputSpec>>;
  /** A stream from `cursor` (a cursor() of an earlier stream), or from the beginning. Throws on a cursor it did not make. */
  open(cursor?: Json): BatchStream;
}

export interface EvalSource {
  readonly inputs: Readonly<Record<string, InputSpec>>;
  /** The held-out batches, in the same order every call. */
  batches(): Iterable<Batch>;
}

/** Seed of batch `index`: each batch draws from its own generator, so any batch is reachable without replaying the earlier ones. */
function batchSeed(seed: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ (index >>> 0), 0xc2b2ae35);
  return (h ^ (h >>> 16) ^ Math.floor(index / 2 ** 32)) >>> 0;
}

export interface TokenWindowOptions {
  /** Rows per batch (B). */
  batch: number;
  /** Tokens per row (T); each row reads T+1 tokens, inputs the first T, labels the last T. */
  ctx: number;
  seed: number;
}

const lmInputs = (batch: number, ctx: number): Record<string, InputSpec> => ({
  input_ids: { shape: [batch, ctx], dtype: 'int64' }, // (B, T)
  labels: { shape: [batch, ctx], dtype: 'int64' }, // (B, T), input_ids shifted left by one
});

function lmBatch(ids: Int32Array, starts: readonly number[], ctx: number): Batch {
  const b = starts.length;
  const x = new BigInt64Array(b * ctx),
    y = new BigInt64Array(b * ctx);
  starts.forEach((s, r) => {
    for (let t = 0; t < ctx; t++) {
      x[r * ctx + t] = BigInt(ids[s + t]!);
      y[r * ctx + t] = BigInt(ids[s + t + 1]!);
    }
  });
  return { input_ids: hostTensor('int64', [b, ctx], x), labels: hostTensor('int64', [b, ctx], y) };
}

/**
 * Next-token windows at random offsets of one token stream (nanoGPT's get_batch), feeding
 * `input_ids` and `labels`. The cursor is the batch index: {seed, index}.
 */
export function tokenWindows(ids: Int32Array, o: TokenWindowOptions): DataSource {
  const { batch, ctx, seed } = o;
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`tokenWindows: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(ctx) || ctx < 1)
    throw new RangeError(`tokenWindows: ctx must be a positive integer, got ${ctx}`);
  if (ids.length < ctx + 1)
    throw new RangeError(
      `tokenWindows: ${ids.length} tokens, but one window needs ctx + 1 = ${ctx + 1}; use a smaller ctx or more text`,
    );
  return {
    inputs: lmInputs(batch, ctx),
    open(cursor?: Json) {
      let index = 0;
      if (cursor !== undefined) {
        const c = cursor as { seed?: unknown; index?: unknown };
        if (typeof c !== 'object' || c === null || !Number.isSafeInteger(c.index) || (c.index as number) < 0) {
          throw new Error(
            `tokenWindows: cursor ${JSON.stringify(cursor)} is not one of this source's ({seed, index}); was the checkpoint written for another data source?`,
          );
        }
        if (c.seed !== seed)
          throw new Error(
            `tokenWindows: the cursor was made with data seed ${String(c.seed)}, this source uses ${seed}; resume with the same seed`,
          );
        index = c.index as number;
      }
      return {
        next() {
          const rng = mulberry32(batchSeed(seed, index++));
          return lmBatch(
            ids,
            Array.from({ length: batch }, () => rng.nextInt(ids.length - ctx)),
            ctx,
          );
        },
        cursor: () => ({ seed, index }),
      };
    },
  };
}

/** Consecutive non-overlapping windows from the start of `ids`, at most `maxBatches` full batches: a fixed held-out set. */
export function evalWindows(ids: Int32Array, o: { batch: number; ctx: number; maxBatches?: number }): EvalSource {
  const { batch, ctx } = o;
  const rows = Math.floor((ids.length - 1) / ctx);
  const n = Math.min(Math.floor(rows / batch), o.maxBatches ?? Infinity);
  if (n < 1)
    throw new RangeError(
      `evalWindows: ${ids.length} held-out tokens make ${rows} windows of ${ctx}, fewer than one batch of ${batch}; use more validation text or a smaller batch`,
    );
  return {
    inputs: lmInputs(batch, ctx),
    *batches() {
      for (let k = 0; k < n; k++)
        yield lmBatch(
          ids,
          Array.from({ length: batch }, (_, r) => (k * batch + r) * ctx),
          ctx,
        );
    },
  };
}
