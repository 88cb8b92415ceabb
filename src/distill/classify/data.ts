// Labelled texts as classifier batches: each text tokenized, cut to `seq` tokens and right-padded,
// with an attention mask (1 = token, 0 = padding) and one label per text. Training batches draw
// random examples (a resumable stream, like tokenWindows); evaluation batches are consecutive.
import type { EncodedExamples } from '../../data/labelled.ts';
import { mulberry32 } from '../../data/rng.ts';
import { hostTensor } from '../../runtime/index.ts';
import type { Json } from '../checkpoint/index.ts';
import type { DataSource, EvalSource, InputSpec } from '../trainer/index.ts';

export { charsFor, encodeExamples, type EncodedExamples, type LabelledText } from '../../data/labelled.ts';

const inputsOf = (batch: number, seq: number): Record<string, InputSpec> => ({
  input_ids: { shape: [batch, seq], dtype: 'int64' }, // (B, T)
  attention_mask: { shape: [batch, seq], dtype: 'int64' }, // (B, T)
  labels: { shape: [batch], dtype: 'int64' }, // (B)
});

function batchOf(ex: EncodedExamples, rows: readonly number[]) {
  const { seq } = ex;
  const b = rows.length;
  const ids = new BigInt64Array(b * seq),
    mask = new BigInt64Array(b * seq),
    labels = new BigInt64Array(b);
  rows.forEach((row, r) => {
    ids.set(ex.ids.subarray(row * seq, (row + 1) * seq), r * seq);
    mask.set(ex.mask.subarray(row * seq, (row + 1) * seq), r * seq);
    labels[r] = ex.labels[row]!;
  });
  return {
    input_ids: hostTensor('int64', [b, seq], ids),
    attention_mask: hostTensor('int64', [b, seq], mask),
    labels: hostTensor('int64', [b], labels),
  };
}

/** Random training batches; the cursor {seed, index} resumes at the same batch. */
export function classificationSource(ex: EncodedExamples, o: { batch: number; seed: number }): DataSource {
  if (ex.n < 1) throw new RangeError('classificationSource: no examples');
  return {
    inputs: inputsOf(o.batch, ex.seq),
    open(cursor?: Json) {
      let index = (cursor as { index?: number } | undefined)?.index ?? 0;
      return {
        next() {
          const rng = mulberry32((o.seed * 0x9e3779b1 + index++ * 0x85ebca6b) >>> 0);
          return batchOf(
            ex,
            Array.from({ length: o.batch }, () => rng.nextInt(ex.n)),
          );
        },
        cursor: () => ({ seed: o.seed, index }),
      };
    },
  };
}

/** Consecutive full batches from the start (the remainder that fills no batch is left out). */
export function classificationEval(ex: EncodedExamples, o: { batch: number; maxBatches?: number }): EvalSource {
  const n = Math.min(Math.floor(ex.n / o.batch), o.maxBatches ?? Infinity);
  if (n < 1) throw new RangeError(`classificationEval: ${ex.n} examples make no batch of ${o.batch}`);
  return {
    inputs: inputsOf(o.batch, ex.seq),
    *batches() {
      for (let k = 0; k < n; k++)
        yield batchOf(
          ex,
          Array.from({ length: o.batch }, (_, r) => k * o.batch + r),
        );
    },
  };
}
