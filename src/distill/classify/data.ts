// Labelled texts as classifier batches: each text tokenized, cut to `seq` tokens and right-padded,
// with an attention mask (1 = token, 0 = padding) and one label per text. Training batches draw
// random examples (a resumable stream, like tokenWindows); evaluation batches are consecutive.
import { mulberry32 } from '../../data/rng.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import { hostTensor } from '../../runtime/index.ts';
import type { Json } from '../checkpoint/index.ts';
import type { DataSource, EvalSource, InputSpec } from '../trainer/index.ts';

export interface LabelledText {
  text: string;
  label: number;
}

export interface EncodedExamples {
  /** (N, seq) token ids, right-padded with padId. */
  ids: BigInt64Array;
  /** (N, seq) 1 for tokens, 0 for padding. */
  mask: BigInt64Array;
  /** (N) class ids. */
  labels: BigInt64Array;
  n: number;
  seq: number;
}

/** Characters kept per text before tokenizing: enough for `seq` tokens of any tokenizer we train (≥ 1 character per token), with margin. */
export const charsFor = (seq: number): number => seq * 8;

export function encodeExamples(items: readonly LabelledText[], tok: Tokenizer, seq: number, padId = tok.padId ?? tok.eosId ?? 0): EncodedExamples {
  const n = items.length;
  const ids = new BigInt64Array(n * seq).fill(BigInt(padId));
  const mask = new BigInt64Array(n * seq);
  const labels = new BigInt64Array(n);
  items.forEach((item, r) => {
    let toks = tok.encode(item.text.slice(0, charsFor(seq))).slice(0, seq);
    if (toks.length === 0) toks = [padId]; // an empty text still has one position to pool
    for (let t = 0; t < toks.length; t++) {
      ids[r * seq + t] = BigInt(toks[t]!);
      mask[r * seq + t] = 1n;
    }
    labels[r] = BigInt(item.label);
  });
  return { ids, mask, labels, n, seq };
}

const inputsOf = (batch: number, seq: number): Record<string, InputSpec> => ({
  input_ids: { shape: [batch, seq], dtype: 'int64' }, // (B, T)
  attention_mask: { shape: [batch, seq], dtype: 'int64' }, // (B, T)
  labels: { shape: [batch], dtype: 'int64' }, // (B)
});

function batchOf(ex: EncodedExamples, rows: readonly number[]) {
  const { seq } = ex;
  const b = rows.length;
  const ids = new BigInt64Array(b * seq), mask = new BigInt64Array(b * seq), labels = new BigInt64Array(b);
  rows.forEach((row, r) => {
    ids.set(ex.ids.subarray(row * seq, (row + 1) * seq), r * seq);
    mask.set(ex.mask.subarray(row * seq, (row + 1) * seq), r * seq);
    labels[r] = ex.labels[row]!;
  });
  return { input_ids: hostTensor('int64', [b, seq], ids), attention_mask: hostTensor('int64', [b, seq], mask), labels: hostTensor('int64', [b], labels) };
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
          return batchOf(ex, Array.from({ length: o.batch }, () => rng.nextInt(ex.n)));
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
      for (let k = 0; k < n; k++) yield batchOf(ex, Array.from({ length: o.batch }, (_, r) => k * o.batch + r));
    },
  };
}
