// Text and tokens for a run config's `data` section (train, distill, label): the dataset's text
// split into training and held-out parts, the tokenizer it names, and the ids.
import { readFileSync } from 'node:fs';
import { CharTokenizer } from '../models/tokenizers/char-tokenizer.ts';
import { loadHfTokenizer } from '../models/tokenizers/hf-tokenizer.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import { trainByteLevelBpe } from '../models/tokenizers/train-byte-level-bpe.ts';
import { loadSotu } from './sotu.ts';
import { loadSpamAssassin } from './spam-assassin.ts';

/** How text becomes token ids: a character set, a byte-level BPE learned here, or a Hugging Face tokenizer. */
export type TokenizerSpec = { kind: 'char' } | { kind: 'bpe'; vocabSize: number } | { kind: 'hf'; path: string };

/** The fields of a run config's data section that say what text is read and how it is split and tokenized. */
export interface CorpusSpec {
  /** 'sotu', 'spam', or a text file. */
  dataset: string;
  validation: { fraction: number; afterYear?: number };
  tokenizer: TokenizerSpec;
}

export interface TextSplit {
  train: string;
  validation: string;
  /** Says where each part came from ('SOTU addresses up to 1990'). */
  trainDescription: string;
  validationDescription: string;
}

/** One email as a language model reads it: its subject line, a blank line, its body. */
export const emailAsText = (e: { subject?: string; text: string }): string =>
  e.subject !== undefined ? `Subject: ${e.subject}\n\n${e.text}` : e.text;

/** The dataset's text, split as data.validation says (a year for SOTU, else the last fraction of the text). */
export function splitText(data: CorpusSpec): TextSplit {
  const v = data.validation;
  if (data.dataset === 'sotu' && v.afterYear !== undefined) {
    const all = loadSotu();
    const train = all.filter((s) => s.year <= v.afterYear!);
    const validation = all.filter((s) => s.year > v.afterYear!);
    if (train.length === 0 || validation.length === 0) {
      throw new Error(
        `data.validation.afterYear ${v.afterYear} leaves ${train.length === 0 ? 'no training' : 'no held-out'} addresses; SOTU covers ${all[0]!.year}..${all.at(-1)!.year}`,
      );
    }
    return {
      train: train.map((s) => s.text).join('\n\n'),
      validation: validation.map((s) => s.text).join('\n\n'),
      trainDescription: `SOTU addresses ${train[0]!.year}-${v.afterYear}`,
      validationDescription: `SOTU addresses ${validation[0]!.year}-${validation.at(-1)!.year}`,
    };
  }
  let text: string, name: string;
  if (data.dataset === 'sotu')
    [text, name] = [
      loadSotu()
        .map((s) => s.text)
        .join('\n\n'),
      'SOTU addresses',
    ];
  else if (data.dataset === 'spam')
    [text, name] = [loadSpamAssassin().map(emailAsText).join('\n\n'), 'SpamAssassin emails'];
  else [text, name] = [readFileSync(data.dataset, 'utf8'), data.dataset];
  const cut = Math.floor(text.length * (1 - v.fraction));
  return {
    train: text.slice(0, cut),
    validation: text.slice(cut),
    trainDescription: `${name}, first ${Math.round(100 * (1 - v.fraction))}%`,
    validationDescription: `${name}, last ${Math.round(100 * v.fraction)}%`,
  };
}

/**
 * The tokenizer data.tokenizer names: a BPE learned from `train`, a character set from `all` (every
 * character the run will read, so none maps to unknown), or loaded.
 */
export function buildTokenizer(
  data: CorpusSpec,
  texts: { train: readonly string[]; all: readonly string[] },
): Tokenizer {
  const t = data.tokenizer;
  if (t.kind === 'char') return CharTokenizer.fromCorpus(texts.all);
  if (t.kind === 'bpe') return trainByteLevelBpe([...texts.train], { vocabSize: t.vocabSize });
  return loadHfTokenizer(t.path);
}

export interface TokenCorpus {
  tokenizer: Tokenizer;
  train: Int32Array;
  validation: Int32Array;
  split: TextSplit;
}

/** Splits, tokenizes (the tokenizer given, or the one the config names) and encodes both parts. */
export function tokenCorpus(
  data: CorpusSpec,
  o: { tokenizer?: Tokenizer; log?: (line: string) => void } = {},
): TokenCorpus {
  const split = splitText(data);
  const mb = (s: string) => `${(s.length / 1e6).toFixed(1)}M characters`;
  o.log?.(
    `data: ${split.trainDescription} (${mb(split.train)}) to train, ${split.validationDescription} (${mb(split.validation)}) held out`,
  );
  const tokenizer = o.tokenizer ?? buildTokenizer(data, { train: [split.train], all: [split.train, split.validation] });
  const train = Int32Array.from(tokenizer.encode(split.train));
  const validation = Int32Array.from(tokenizer.encode(split.validation));
  o.log?.(
    `tokens: ${train.length.toLocaleString('en')} to train, ${validation.length.toLocaleString('en')} held out, vocabulary ${tokenizer.vocabSize}`,
  );
  return { tokenizer, train, validation, split };
}
