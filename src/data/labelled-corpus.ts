// Labelled texts for `task: classify` run configs: the dataset the config names (SpamAssassin, or a
// .jsonl file of {"text", "label"} lines), split into training and held-out texts, the tokenizer
// data.tokenizer names (learned from the training texts, or loaded), and both parts encoded.
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import { buildTokenizer, type CorpusSpec } from './corpus.ts';
import { encodeExamples, type EncodedExamples, type LabelledText } from './labelled.ts';
import { SPAM_LABELS, spamSplit } from './spam-split.ts';
import { readLines } from './task/jsonl.ts';
import { seededSplit } from './split.ts';

export interface LabelledCorpus {
  labels: string[];
  train: LabelledText[];
  validation: LabelledText[];
  tokenizer: Tokenizer;
  padId: number;
  trainExamples: EncodedExamples;
  validationExamples: EncodedExamples;
}

/** The held-out split is a seeded shuffle with this seed, the same split every run (as retort eval's). */
const SPLIT_SEED = 0;

/**
 * Reads a .jsonl file of {"text": string, "label": string | integer} lines, line by line; label names
 * sorted, or the integers as given.
 */
export function readLabelledJsonl(path: string): { items: LabelledText[]; labels: string[] } {
  const rows: { text: string; label: string | number }[] = [];
  for (const { line, text } of readLines(path)) {
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch {
      throw new Error(`${path}:${line}: not JSON; each line must be an object like {"text": "...", "label": "spam"}`);
    }
    const r = row as { text?: unknown; label?: unknown };
    if (
      typeof r.text !== 'string' ||
      !(typeof r.label === 'string' || (Number.isInteger(r.label) && (r.label as number) >= 0))
    ) {
      throw new Error(
        `${path}:${line}: expected {"text": string, "label": string or non-negative integer}, got ${text.slice(0, 120)}`,
      );
    }
    rows.push({ text: r.text, label: r.label as string | number });
  }
  if (rows.length === 0) throw new Error(`${path}: no labelled lines`);
  const kinds = new Set(rows.map((r) => typeof r.label));
  if (kinds.size > 1) throw new Error(`${path}: labels mix names and integers; use one or the other`);
  // A reduce, not Math.max(...labels): spreading a long file's labels overflows the stack.
  const labels = kinds.has('string')
    ? [...new Set(rows.map((r) => r.label as string))].sort()
    : Array.from({ length: rows.reduce((m, r) => Math.max(m, r.label as number), 0) + 1 }, (_, k) => String(k));
  if (labels.length < 2)
    throw new Error(
      `${path}: every line has label ${JSON.stringify(labels[0])}; a classifier needs at least two labels`,
    );
  return {
    items: rows.map((r) => ({ text: r.text, label: typeof r.label === 'string' ? labels.indexOf(r.label) : r.label })),
    labels,
  };
}

export function labelledCorpus(
  data: CorpusSpec & { seqLen: number },
  o: { tokenizer?: Tokenizer; log?: (line: string) => void } = {},
): LabelledCorpus {
  const fraction = data.validation.fraction;
  let labels: string[], train: LabelledText[], validation: LabelledText[], name: string;
  if (data.dataset === 'spam') {
    ({ train, validation } = spamSplit({ validationFraction: fraction, seed: SPLIT_SEED }));
    [labels, name] = [[...SPAM_LABELS], 'SpamAssassin emails'];
  } else if (data.dataset.endsWith('.jsonl')) {
    const read = readLabelledJsonl(data.dataset);
    ({ train, validation } = seededSplit(read.items, { validationFraction: fraction, seed: SPLIT_SEED }));
    [labels, name] = [read.labels, data.dataset];
  } else {
    throw new Error(
      `data.dataset '${data.dataset}' holds no labels; task classify reads 'spam' or a .jsonl file of {"text", "label"} lines`,
    );
  }
  // A BPE learns from a sample of the training texts, not every character of every one.
  const sample = train.slice(0, 2000).map((x) => x.text.slice(0, 4000));
  const tokenizer =
    o.tokenizer ?? buildTokenizer(data, { train: sample, all: [...train, ...validation].map((x) => x.text) });
  const padId = tokenizer.padId ?? tokenizer.eosId ?? 0;
  o.log?.(
    `data: ${name}, ${train.length} texts to train and ${validation.length} held out; labels ${labels.join(', ')}; vocabulary ${tokenizer.vocabSize}`,
  );
  return {
    labels,
    train,
    validation,
    tokenizer,
    padId,
    trainExamples: encodeExamples(train, tokenizer, data.seqLen, padId),
    validationExamples: encodeExamples(validation, tokenizer, data.seqLen, padId),
  };
}
