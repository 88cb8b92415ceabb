// Random training windows over one long token stream, the nanoGPT way: each row is ctx+1 consecutive
// tokens starting at a random offset; inputs are the first ctx, targets the last ctx (shifted by one), so
// position t learns to predict token t+1.
import { mulberry32 } from './rng.ts';

export interface TokenBatch {
  /** (B, T) row-major. */
  inputs: Int32Array;
  /** (B, T) row-major; targets[b, t] === inputs[b, t + 1] within a row. */
  targets: Int32Array;
}

export interface TokenBatchOptions {
  /** Rows per batch (B). */
  batch: number;
  /** Tokens per row (T). */
  ctx: number;
  /** Seeds the offsets; the same seed gives the same batches. */
  seed: number;
  /** Stop after this many batches; default: never (take what you need). */
  steps?: number;
}

export function* tokenBatches(ids: Int32Array, options: TokenBatchOptions): Generator<TokenBatch> {
  const { batch, ctx, seed, steps = Infinity } = options;
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`tokenBatches: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(ctx) || ctx < 1)
    throw new RangeError(`tokenBatches: ctx must be a positive integer, got ${ctx}`);
  if (ids.length < ctx + 1) {
    throw new RangeError(
      `tokenBatches: ids has ${ids.length} tokens but one window needs ctx + 1 = ${ctx + 1}; use a smaller ctx or more text`,
    );
  }
  const rng = mulberry32(seed);
  const offsets = ids.length - ctx; // valid starts: 0 .. ids.length - ctx - 1
  for (let step = 0; step < steps; step++) {
    const inputs = new Int32Array(batch * ctx);
    const targets = new Int32Array(batch * ctx);
    for (let b = 0; b < batch; b++) {
      const start = rng.nextInt(offsets);
      inputs.set(ids.subarray(start, start + ctx), b * ctx); // (T,)
      targets.set(ids.subarray(start + 1, start + ctx + 1), b * ctx); // (T,)
    }
    yield { inputs, targets };
  }
}
