// Labelled texts encoded for a classifier: each text tokenized, cut to `seq` tokens and right-padded,
// with an attention mask (1 = token, 0 = padding) and one class id per text.
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';

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

export function encodeExamples(
  items: readonly LabelledText[],
  tok: Tokenizer,
  seq: number,
  padId = tok.padId ?? tok.eosId ?? 0,
): EncodedExamples {
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
