// Batches of task examples (prompts with answers, or documents) for the Trainer. Each epoch visits
// the examples in a fresh seeded order, one per row right-padded or packed several to a row (see
// src/data/task/rows.ts); the last incomplete batch of an epoch is left for the next epoch's order.
// The cursor {seed, epoch, index} reopens the stream at exactly the next batch.
import { seededShuffle } from '../../data/split.ts';
import { batchArrays, packRows, type EncodedExample } from '../../data/task/index.ts';
import { hostTensor } from '../../runtime/index.ts';
import type { Json } from '../checkpoint/index.ts';
import type { Batch, DataSource, EvalSource, InputSpec } from './data.ts';

export interface TaskBatchOptions {
  batch: number;
  seq: number;
  /** Several examples per row with block-diagonal attention (position_ids and segment_ids feeds). */
  packed: boolean;
  /** Token id of padded inputs (they are masked out; any valid id does). */
  padId: number;
}

/** The inputs a task batch feeds: ids, labels, attention_mask, and with packing position_ids and segment_ids. */
export function taskInputs(batch: number, seq: number, packed: boolean): Record<string, InputSpec> {
  const spec = { shape: [batch, seq], dtype: 'int64' as const }; // (B, T) each
  return {
    input_ids: spec,
    labels: spec,
    attention_mask: spec,
    ...(packed && { position_ids: spec, segment_ids: spec }),
  };
}

function toBatch(rows: readonly (readonly EncodedExample[])[], o: TaskBatchOptions): Batch {
  const a = batchArrays(rows, o);
  const shape = [o.batch, o.seq];
  const out: Batch = {};
  for (const [name, data] of Object.entries(a)) if (data) out[name] = hostTensor('int64', shape, data);
  return out;
}

/** Training batches over `examples`, reshuffled every epoch. */
export function taskBatches(examples: readonly EncodedExample[], o: TaskBatchOptions & { seed: number }): DataSource {
  if (examples.length === 0)
    throw new RangeError(
      'taskBatches: no training examples: the data holds only prompts (run a teacherAnswers step first, so the teacher writes the answers) or every example was too long for seqLen',
    );
  const epochRows = (epoch: number) => {
    const order = seededShuffle(examples, (Math.imul(o.seed ^ 0x5bd1e995, 31) + epoch) >>> 0);
    return o.packed ? packRows(order, o.seq) : order.map((e) => [e]);
  };
  return {
    inputs: taskInputs(o.batch, o.seq, o.packed),
    open(cursor?: Json) {
      let epoch = 0,
        index = 0;
      if (cursor !== undefined) {
        const c = cursor as { seed?: unknown; epoch?: unknown; index?: unknown };
        if (typeof c !== 'object' || c === null || !Number.isSafeInteger(c.epoch) || !Number.isSafeInteger(c.index)) {
          throw new Error(
            `taskBatches: cursor ${JSON.stringify(cursor)} is not one of this source's ({seed, epoch, index}); was the checkpoint written for another data source?`,
          );
        }
        if (c.seed !== o.seed)
          throw new Error(
            `taskBatches: the cursor was made with data seed ${String(c.seed)}, this source uses ${o.seed}; resume with the same seed`,
          );
        [epoch, index] = [c.epoch as number, c.index as number];
      }
      let rows = epochRows(epoch);
      return {
        next() {
          // Fewer rows than a batch: the epoch is one padded batch.
          const perEpoch = Math.max(1, Math.floor(rows.length / o.batch));
          if (index >= perEpoch) {
            epoch++;
            index = 0;
            rows = epochRows(epoch);
          }
          const b = toBatch(rows.slice(index * o.batch, (index + 1) * o.batch), o);
          index++;
          return b;
        },
        cursor: () => ({ seed: o.seed, epoch, index }),
      };
    },
  };
}

/** Held-out batches in file order; the last one is completed with empty rows, so every example counts. */
export function taskEvalBatches(
  examples: readonly EncodedExample[],
  o: TaskBatchOptions & { maxBatches?: number },
): EvalSource {
  const rows = o.packed ? packRows(examples, o.seq) : examples.map((e) => [e]);
  const n = Math.min(Math.ceil(rows.length / o.batch), o.maxBatches ?? Infinity);
  return {
    inputs: taskInputs(o.batch, o.seq, o.packed),
    *batches() {
      for (let k = 0; k < n; k++) yield toBatch(rows.slice(k * o.batch, (k + 1) * o.batch), o);
    },
  };
}
