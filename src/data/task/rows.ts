// Encoded examples → the rows of a training batch. A row holds one example, right-padded
// (`attention_mask` 0 past its end), or with packing several examples end to end: `segment_ids`
// number them from 1 so attention is block-diagonal (a packed example never sees another) and
// `position_ids` restart at 0 for each. Labels are the next token where that token is trained,
// the ignore index everywhere else (padding, prompts, and the seam between packed examples).
import type { EncodedExample } from './encode.ts';

export const IGNORE_INDEX = -100;

/** The inputs a task batch feeds, by name; `position_ids` and `segment_ids` only when packed. */
export interface TaskBatchArrays {
  input_ids: BigInt64Array; // (B, T)
  labels: BigInt64Array; // (B, T)
  attention_mask: BigInt64Array; // (B, T), 1 on real tokens
  position_ids?: BigInt64Array; // (B, T)
  segment_ids?: BigInt64Array; // (B, T), 0 on padding
}

/**
 * Next-fit packing in the given order: each row takes examples while their input positions fit in
 * seq (an example of n tokens feeds n − 1 inputs: every token but its last, which is only a label).
 */
export function packRows(examples: readonly EncodedExample[], seq: number): EncodedExample[][] {
  const rows: EncodedExample[][] = [];
  let row: EncodedExample[] = [];
  let used = 0;
  for (const e of examples) {
    if (e.ids.length > seq + 1)
      throw new RangeError(
        `packRows: example ${e.id} has ${e.ids.length} tokens, more than seq + 1 = ${seq + 1}; fit it first (fitExample)`,
      );
    if (used + e.ids.length - 1 > seq && row.length > 0) {
      rows.push(row);
      row = [];
      used = 0;
    }
    row.push(e);
    used += e.ids.length - 1;
  }
  if (row.length > 0) rows.push(row);
  return rows;
}

/**
 * Lays out `rows` (each a list of examples; one per row without packing) as a (B, T) batch with
 * T = seq; missing rows (the last held-out batch) are all padding. `padId` fills padded inputs.
 */
export function batchArrays(
  rows: readonly (readonly EncodedExample[])[],
  o: { batch: number; seq: number; padId: number; packed: boolean },
): TaskBatchArrays {
  const { batch: b, seq: t } = o;
  if (rows.length > b) throw new RangeError(`batchArrays: ${rows.length} rows for a batch of ${b}`);
  const ids = new BigInt64Array(b * t).fill(BigInt(o.padId));
  const labels = new BigInt64Array(b * t).fill(BigInt(IGNORE_INDEX));
  const mask = new BigInt64Array(b * t);
  const positions = o.packed ? new BigInt64Array(b * t) : undefined;
  const segments = o.packed ? new BigInt64Array(b * t) : undefined;
  rows.forEach((row, r) => {
    if (!o.packed && row.length > 1) throw new RangeError('batchArrays: several examples in one row need packed: true');
    let col = 0;
    row.forEach((e, s) => {
      const n = e.ids.length;
      // Inputs are the example's tokens but its last; labels are the tokens after each input.
      for (let k = 0; k < n - 1 && col < t; k++, col++) {
        const at = r * t + col;
        ids[at] = BigInt(e.ids[k]!);
        if (e.train[k + 1]) labels[at] = BigInt(e.ids[k + 1]!);
        mask[at] = 1n;
        if (positions) positions[at] = BigInt(k);
        if (segments) segments[at] = BigInt(s + 1);
      }
    });
  });
  return {
    input_ids: ids,
    labels,
    attention_mask: mask,
    ...(positions && { position_ids: positions, segment_ids: segments }),
  };
}
