// Text and tokens for a run config's `data` section (train, distill, label): the dataset's text
// split into training and held-out parts, the tokenizer it names, and the ids. A text file is streamed
// (text-stream.ts), never read into one string, and encoded chunk by chunk (encode-stream.ts).
import { CharTokenizer } from '../models/tokenizers/char-tokenizer.ts';
import { loadHfTokenizer } from '../models/tokenizers/hf-tokenizer.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import { countWords, DEFAULT_SPECIAL_TOKENS, trainByteLevelBpe } from '../models/tokenizers/train-byte-level-bpe.ts';
import { encodeStream } from './encode-stream.ts';
import { safeChunks, type Agrees, type ChunkOptions } from './safe-chunks.ts';
import { loadSotu } from './sotu.ts';
import { loadSpamAssassin } from './spam-assassin.ts';
import { readTextPieces, slicePieces, textLength } from './text-stream.ts';

/** How text becomes token ids: a character set, a byte-level BPE learned here, or a Hugging Face tokenizer. */
export type TokenizerSpec = { kind: 'char' } | { kind: 'bpe'; vocabSize: number } | { kind: 'hf'; path: string };

/** The fields of a run config's data section that say what text is read and how it is split and tokenized. */
export interface CorpusSpec {
  /** 'sotu', 'spam', or a text file. */
  dataset: string;
  validation: { fraction: number; afterYear?: number };
  tokenizer: TokenizerSpec;
}

/** One part of the dataset's text (to train on, or held out), read as pieces so a file of any size streams. */
export interface TextPart {
  /** Its length in UTF-16 code units, as string.length counts. */
  chars: number;
  /** Says where it came from ('SOTU addresses 1790-1990'). */
  description: string;
  /** Its text as consecutive pieces; each call reads it again from the start. */
  pieces(): Iterable<string>;
}

export interface TextSplit {
  train: TextPart;
  validation: TextPart;
}

/** How a text file is read and cut for tokenizing; the defaults suit any size, tests make them small. */
export interface StreamOptions extends ChunkOptions {
  /** Bytes read from the file per step (default 1 MiB). */
  readBytes?: number;
}

/** One email as a language model reads it: its subject line, a blank line, its body. */
export const emailAsText = (e: { subject?: string; text: string }): string =>
  e.subject !== undefined ? `Subject: ${e.subject}\n\n${e.text}` : e.text;

const inMemory = (text: string, description: string): TextPart => ({
  chars: text.length,
  description,
  pieces: () => [text],
});

/** The last `fraction` of a text held out: cut at the same code unit as text.slice would, from its length alone. */
function splitAt(whole: { chars: number; pieces: () => Iterable<string> }, name: string, fraction: number): TextSplit {
  const cut = Math.floor(whole.chars * (1 - fraction));
  return {
    train: {
      chars: cut,
      description: `${name}, first ${Math.round(100 * (1 - fraction))}%`,
      pieces: () => slicePieces(whole.pieces(), 0, cut),
    },
    validation: {
      chars: whole.chars - cut,
      description: `${name}, last ${Math.round(100 * fraction)}%`,
      pieces: () => slicePieces(whole.pieces(), cut),
    },
  };
}

/** The dataset's text, split as data.validation says (a year for SOTU, else the last fraction of the text). */
export function splitText(data: CorpusSpec, o: StreamOptions = {}): TextSplit {
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
      train: inMemory(train.map((s) => s.text).join('\n\n'), `SOTU addresses ${train[0]!.year}-${v.afterYear}`),
      validation: inMemory(
        validation.map((s) => s.text).join('\n\n'),
        `SOTU addresses ${validation[0]!.year}-${validation.at(-1)!.year}`,
      ),
    };
  }
  if (data.dataset === 'sotu') {
    const text = loadSotu()
      .map((s) => s.text)
      .join('\n\n');
    return splitAt({ chars: text.length, pieces: () => [text] }, 'SOTU addresses', v.fraction);
  }
  if (data.dataset === 'spam') {
    const text = loadSpamAssassin().map(emailAsText).join('\n\n');
    return splitAt({ chars: text.length, pieces: () => [text] }, 'SpamAssassin emails', v.fraction);
  }
  // Never held whole: the file is read once here for its length, then again each time a part is read.
  const pieces = () => readTextPieces(data.dataset, o.readBytes);
  return splitAt({ chars: textLength(pieces()), pieces }, data.dataset, v.fraction);
}

/**
 * The tokenizer data.tokenizer names: a BPE learned from `train`, a character set from `all` (every
 * character the run will read, so none maps to unknown), or loaded. Each iterable is read at most once.
 */
export function buildTokenizer(data: CorpusSpec, texts: { train: Iterable<string>; all: Iterable<string> }): Tokenizer {
  const t = data.tokenizer;
  if (t.kind === 'char') return CharTokenizer.fromCorpus(texts.all);
  if (t.kind === 'bpe') return trainByteLevelBpe(texts.train, { vocabSize: t.vocabSize });
  return loadHfTokenizer(t.path);
}

/** A learned BPE counts GPT-2 pre-tokenized words, so its training text may be cut only where the words stay the same. */
export const sameBpeWords: Agrees = (left, right) => {
  const whole = countWords([left + right], DEFAULT_SPECIAL_TOKENS);
  const apart = countWords([left, right], DEFAULT_SPECIAL_TOKENS);
  return whole.size === apart.size && [...whole].every(([w, n]) => apart.get(w) === n);
};

function* concat(...parts: TextPart[]): Generator<string> {
  for (const p of parts) yield* p.pieces();
}

export interface TokenCorpus {
  tokenizer: Tokenizer;
  train: Int32Array;
  validation: Int32Array;
  split: TextSplit;
}

/**
 * Splits, tokenizes (the tokenizer given, or the one the config names) and encodes both parts, a chunk
 * at a time: the ids equal encoding each part whole, and a text file of any size streams through.
 */
export function tokenCorpus(
  data: CorpusSpec,
  o: { tokenizer?: Tokenizer; log?: (line: string) => void; stream?: StreamOptions } = {},
): TokenCorpus {
  const stream = o.stream ?? {};
  const split = splitText(data, stream);
  const mb = (p: TextPart) => `${(p.chars / 1e6).toFixed(1)}M characters`;
  o.log?.(
    `data: ${split.train.description} (${mb(split.train)}) to train, ${split.validation.description} (${mb(split.validation)}) held out`,
  );
  const tokenizer =
    o.tokenizer ??
    buildTokenizer(data, {
      train: safeChunks(split.train.pieces(), sameBpeWords, stream),
      all: concat(split.train, split.validation),
    });
  const encode = (p: TextPart) => encodeStream(tokenizer, p.pieces(), { ...stream, chars: p.chars });
  const train = encode(split.train);
  const validation = encode(split.validation);
  o.log?.(
    `tokens: ${train.length.toLocaleString('en')} to train, ${validation.length.toLocaleString('en')} held out, vocabulary ${tokenizer.vocabSize}`,
  );
  return { tokenizer, train, validation, split };
}
