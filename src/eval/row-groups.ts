// Scoring a batch a few rows at a time, so the logits one run returns stay under a byte budget:
// at V = 151,936 one (8, 512) batch's logits are 2.5 GB, and the evaluation holds the teacher's
// beside each student's. The figures are sums over positions, so they do not change.
import { chunkRows } from '../autodiff/index.ts';
import type { HostTensor } from '../runtime/index.ts';

/** Default bytes of one run's logits: (B', T, V) float32 with B' the largest group that fits. */
export const LOGIT_BYTES = 256 * 2 ** 20;

/**
 * Rows per run for a batch of `rows` rows of `seq` positions and `classes` logits each: the
 * largest divisor of `rows` whose logits fit `budget` bytes (at least 1), so every group has one
 * shape and one compiled program serves them all.
 */
export function groupRows(rows: number, seq: number, classes: number, budget = LOGIT_BYTES): number {
  const fit = Math.max(1, Math.floor(budget / (seq * classes * 4)));
  // chunkRows picks the largest divisor not above `fit`, as the chunked losses do; null: one group.
  return chunkRows(fit, rows, classes) ?? rows;
}

/** Rows [from, from + n) of a batch tensor (its first axis), sharing the tensor's memory. */
export function rowSlice(t: HostTensor, from: number, n: number): HostTensor {
  const per = t.data.length / t.shape[0]!;
  const data = (t.data as Float32Array).subarray(from * per, (from + n) * per) as unknown as HostTensor['data'];
  return { dtype: t.dtype, shape: [n, ...t.shape.slice(1)], data };
}

/** A batch split into groups of `size` rows; every tensor of the batch is split along its first axis. */
export function* rowGroups(
  batch: Readonly<Record<string, HostTensor>>,
  size: number,
): Generator<Record<string, HostTensor>> {
  const rows = Object.values(batch)[0]?.shape[0] ?? 0;
  if (size >= rows) {
    yield { ...batch };
    return;
  }
  for (let from = 0; from < rows; from += size)
    yield Object.fromEntries(Object.entries(batch).map(([k, v]) => [k, rowSlice(v, from, size)]));
}
