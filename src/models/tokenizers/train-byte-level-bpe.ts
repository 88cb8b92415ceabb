// Trains a GPT-2-style byte-level BPE tokenizer and packages it as a Hugging Face tokenizer.json,
// so the result loads in transformers, in the Rust tokenizers library and in loadHfTokenizer alike.
// Vocabulary layout: special tokens first (ids 0..S-1, as the Hugging Face trainer does), then the
// 256 byte characters in byte order (id S + byte), then one token per merge.
import { BYTE_TO_CHAR, GPT2_SPLIT, splitOnSpecials } from './byte-level.ts';
import { learnBpe } from './bpe-learner.ts';
import { HfTokenizer, type TokenizerConfigJson, type TokenizerJson } from './hf-tokenizer.ts';

export interface ByteLevelBpeOptions {
  /** Total vocabulary size, special tokens and the 256 byte tokens included. */
  vocabSize: number;
  /** Merge no pair seen fewer times than this (default 2: a pair seen once compresses nothing elsewhere). */
  minFrequency?: number;
  /** Tokens that are never split and never learned from (default ['<|endoftext|>']). */
  specialTokens?: string[];
  /** Default '<|endoftext|>' when it is a special token, as in GPT-2; added to specialTokens if missing. */
  eosToken?: string;
  bosToken?: string;
  padToken?: string;
  chatTemplate?: string;
}

/** The special tokens a BPE trained without specialTokens gets, as GPT-2 has them. */
export const DEFAULT_SPECIAL_TOKENS: readonly string[] = ['<|endoftext|>'];

/** Counts each pre-tokenized word (as raw text) over the corpus; special tokens are cut out first. */
export function countWords(texts: Iterable<string>, specials: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const part of splitOnSpecials(text, specials)) {
      if (part.special) continue;
      for (const word of part.text.match(GPT2_SPLIT) ?? []) counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

const utf8 = new TextEncoder();

export function trainByteLevelBpe(texts: Iterable<string>, options: ByteLevelBpeOptions): HfTokenizer {
  const specials = [...(options.specialTokens ?? DEFAULT_SPECIAL_TOKENS)];
  const eos = options.eosToken ?? (specials.includes('<|endoftext|>') ? '<|endoftext|>' : undefined);
  for (const t of [options.bosToken, eos, options.padToken])
    if (t !== undefined && !specials.includes(t)) specials.push(t);
  if (new Set(specials).size !== specials.length)
    throw new Error(`trainByteLevelBpe: specialTokens ${JSON.stringify(specials)} has duplicates`);
  const minimum = specials.length + 256;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < minimum) {
    throw new RangeError(
      `trainByteLevelBpe: vocabSize must be an integer >= ${minimum} (${specials.length} special tokens + 256 bytes), got ${options.vocabSize}`,
    );
  }

  const counts = countWords(texts, specials);
  const words = [...counts].map(([word, count]) => ({
    symbols: Int32Array.from(utf8.encode(word), (byte) => specials.length + byte),
    count,
  }));
  const learned = learnBpe([...specials, ...BYTE_TO_CHAR], words, {
    vocabSize: options.vocabSize,
    minFrequency: options.minFrequency ?? 2,
  });

  // fromEntries defines own properties, so a learned token like "__proto__" stays an ordinary key.
  const vocab: Record<string, number> = Object.fromEntries(learned.tokens.map((t, i) => [t, i]));
  const json: TokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      // "left right" strings: the format every tokenizers version reads; byte-level tokens never contain a space.
      merges: learned.merges.map(([a, b]) => `${learned.tokens[a]} ${learned.tokens[b]}`),
    },
  };
  const config: TokenizerConfigJson = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: false,
    ...(options.bosToken !== undefined && { bos_token: options.bosToken }),
    ...(eos !== undefined && { eos_token: eos }),
    ...(options.padToken !== undefined && { pad_token: options.padToken }),
    ...(options.chatTemplate !== undefined && { chat_template: options.chatTemplate }),
  };
  return new HfTokenizer(json, config);
}
