// Learns BPE merges (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword Units")
// from word counts. Work is proportional to what each merge touches, not to the corpus:
// - the corpus is its unique pre-tokenized words with their frequencies, so "the" is one word, not 20 000;
// - pair counts are kept across merges and only the words that contain the merged pair are rewritten,
//   their pair counts adjusted by the difference (old pairs out, new pairs in);
// - the best pair comes from a max-heap with lazy deletion: a popped entry whose count is stale is skipped.
// Ties on count go to the smaller (left id, right id), so training is deterministic.

export interface LearnOptions {
  /** Stop once the vocabulary (initial symbols + merged tokens) has this many entries. */
  vocabSize: number;
  /** Do not merge pairs seen fewer times than this. */
  minFrequency: number;
}

export interface LearnedBpe {
  /** Token strings by id: the initial symbols, then one per merge that made a new string. */
  tokens: string[];
  /** Merges in the order learned: [left, right] token ids. */
  merges: [number, number][];
  /** Each input word's final segmentation (token ids), in the order the words were given. */
  words: Int32Array[];
}

/** Pair keys pack two ids below 2^21 into one safe integer. */
const ID_LIMIT = 2 ** 21;
const pairKey = (a: number, b: number) => a * ID_LIMIT + b;

/** Max-heap of [count, key] ordered by count desc, then key asc. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  private above(i: number, j: number): boolean {
    return this.counts[i]! > this.counts[j]! || (this.counts[i] === this.counts[j] && this.keys[i]! < this.keys[j]!);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.keys.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): [count: number, key: number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const last = this.keys.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < last && this.above(l, best)) best = l;
      if (r < last && this.above(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }
}

/** Merges every non-overlapping (a, b), left to right, as BPE encoding does. Returns null if none. */
function mergeWord(sym: Int32Array, a: number, b: number, merged: number): Int32Array | null {
  let hits = 0;
  for (let i = 0; i < sym.length - 1; i++) if (sym[i] === a && sym[i + 1] === b) hits++, i++;
  if (hits === 0) return null;
  const out = new Int32Array(sym.length - hits);
  let j = 0;
  for (let i = 0; i < sym.length; i++) {
    if (i < sym.length - 1 && sym[i] === a && sym[i + 1] === b) (out[j++] = merged), i++;
    else out[j++] = sym[i]!;
  }
  return out;
}

/**
 * @param initial the starting symbols (e.g. 256 byte characters, with any special tokens first)
 * @param words each unique word as initial-symbol ids, with how often it occurs
 */
export function learnBpe(
  initial: readonly string[],
  words: { symbols: Int32Array; count: number }[],
  options: LearnOptions,
): LearnedBpe {
  if (options.vocabSize >= ID_LIMIT)
    throw new RangeError(`vocabSize ${options.vocabSize} is too large; the trainer supports up to ${ID_LIMIT - 1}`);
  const tokens = [...initial];
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const syms = words.map((w) => w.symbols);
  const freq = words.map((w) => w.count);
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>(); // pair -> words that may contain it (a superset; stale entries are skipped)
  for (let w = 0; w < syms.length; w++) {
    const s = syms[w]!;
    for (let i = 0; i < s.length - 1; i++) {
      const k = pairKey(s[i]!, s[i + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + freq[w]!);
      let set = where.get(k);
      if (!set) where.set(k, (set = new Set()));
      set.add(w);
    }
  }
  const heap = new PairHeap();
  for (const [k, c] of pairCount) heap.push(c, k);
  const merges: [number, number][] = [];
  const merged = new Set<number>();

  while (tokens.length < options.vocabSize && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) !== count) continue; // stale heap entry
    if (count < options.minFrequency || count === 0) break;
    const a = Math.floor(key / ID_LIMIT);
    const b = key % ID_LIMIT;
    const text = tokens[a]! + tokens[b]!;
    let id = idOf.get(text);
    if (id === undefined) {
      id = tokens.push(text) - 1;
      idOf.set(text, id);
    }
    // A string reachable by two merge paths can make an old pair reappear; record each merge once.
    if (!merged.has(key)) merges.push([a, b]), merged.add(key);

    const delta = new Map<number, number>();
    const add = (k: number, d: number) => delta.set(k, (delta.get(k) ?? 0) + d);
    for (const w of where.get(key) ?? []) {
      const before = syms[w]!;
      const after = mergeWord(before, a, b, id);
      if (!after) continue;
      const f = freq[w]!;
      for (let i = 0; i < before.length - 1; i++) add(pairKey(before[i]!, before[i + 1]!), -f);
      for (let i = 0; i < after.length - 1; i++) {
        const k = pairKey(after[i]!, after[i + 1]!);
        add(k, f);
        if (after[i] === id || after[i + 1] === id) {
          let set = where.get(k);
          if (!set) where.set(k, (set = new Set()));
          set.add(w);
        }
      }
      syms[w] = after;
    }
    where.delete(key);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const c = (pairCount.get(k) ?? 0) + d;
      if (c > 0) pairCount.set(k, c), heap.push(c, k);
      else pairCount.delete(k);
    }
  }
  return { tokens, merges, words: syms };
}
