// Drops generated texts that repeat one already kept: exact duplicates (after collapsing whitespace
// and case) and near-duplicates, whose sets of word n-grams ("shingles") overlap by a Jaccard
// similarity of at least `threshold` (Broder 1997). Candidates are found through an inverted index
// of shingles, so each new text is compared only with kept texts that share one with it.
import { createHash } from 'node:crypto';

export interface DedupeOptions {
  /** Words per shingle. */
  ngram: number;
  /** Jaccard similarity of shingle sets at or above which a text is a near-duplicate. */
  threshold: number;
}

export type DuplicateKind = 'exact' | 'near';

const normalize = (text: string): string => text.toLowerCase().replace(/\s+/g, ' ').trim();

/** The text's word n-grams (the whole text as one shingle when it has fewer than n words). */
export function shingles(text: string, n: number): Set<string> {
  const words = normalize(text).split(' ').filter(Boolean);
  if (words.length < n) return new Set([words.join(' ')]);
  const out = new Set<string>();
  for (let i = 0; i + n <= words.length; i++) out.add(words.slice(i, i + n).join(' '));
  return out;
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let shared = 0;
  for (const s of a) if (b.has(s)) shared++;
  return shared / (a.size + b.size - shared || 1);
}

export class Deduper {
  private readonly exact = new Set<string>();
  private readonly kept: Set<string>[] = [];
  private readonly index = new Map<string, number[]>();

  constructor(readonly o: DedupeOptions) {
    if (!Number.isInteger(o.ngram) || o.ngram < 1)
      throw new RangeError(`dedupe: ngram must be a positive integer, got ${o.ngram}`);
    if (!(o.threshold > 0 && o.threshold <= 1))
      throw new RangeError(`dedupe: threshold must be in (0, 1], got ${o.threshold}`);
  }

  /** Why `text` would be dropped, or undefined when it is new. */
  check(text: string): DuplicateKind | undefined {
    if (this.exact.has(hash(text))) return 'exact';
    const sh = shingles(text, this.o.ngram);
    const seen = new Set<number>();
    for (const s of sh) {
      for (const i of this.index.get(s) ?? []) {
        if (seen.has(i)) continue;
        seen.add(i);
        if (jaccard(sh, this.kept[i]!) >= this.o.threshold) return 'near';
      }
    }
    return undefined;
  }

  /** Keeps `text` (without checking it). */
  add(text: string): void {
    this.exact.add(hash(text));
    const sh = shingles(text, this.o.ngram);
    const i = this.kept.push(sh) - 1;
    for (const s of sh) {
      const list = this.index.get(s);
      if (list) list.push(i);
      else this.index.set(s, [i]);
    }
  }

  /** Checks and, when new, keeps: returns why it was dropped, or undefined when kept. */
  offer(text: string): DuplicateKind | undefined {
    const why = this.check(text);
    if (!why) this.add(text);
    return why;
  }
}

const hash = (text: string): string => createHash('sha256').update(normalize(text)).digest('hex');
