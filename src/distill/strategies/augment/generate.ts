// The generation loop every augmentation shares: ask a proposer for examples attempt by attempt,
// drop duplicates, write the kept ones to the set on disk after each batch of attempts. Attempt i
// is deterministic (its prompt and sampling seed derive from i), so a resumed run makes exactly the
// examples the uninterrupted one would have.
import type { Json } from '../../checkpoint/index.ts';
import { Deduper, type DedupeOptions } from './dedupe.ts';
import { GeneratedSet, type GeneratedExample, type GeneratedManifest } from './examples-file.ts';

export type Proposal = Omit<GeneratedExample, 'i'>;

export interface GenerateSetOptions {
  dir: string;
  /** What the set is for (teacher, data, settings): a set of another identity is refused. */
  identity: Json;
  /** Examples to keep. */
  count: number;
  /** Give up after this many attempts (duplicates make some attempts count for nothing). */
  maxAttempts: number;
  /** Attempts per proposer call. */
  batch: number;
  dedupe: DedupeOptions;
  /** Texts the generated ones must not repeat (e.g. the training texts). */
  existing?: Iterable<string>;
  /** One proposal per attempt from..from+n−1 (null: nothing usable). */
  propose: (from: number, n: number) => Promise<(Proposal | null)[]>;
  onProgress?: (m: GeneratedManifest) => void;
}

export async function generateSet(o: GenerateSetOptions): Promise<GeneratedSet> {
  const set = GeneratedSet.open(o.dir, o.identity);
  const dd = new Deduper(o.dedupe);
  for (const t of o.existing ?? []) dd.add(t);
  for (const e of set.examples) dd.add(e.text);
  let attempts = set.manifest.attempts;
  const dropped = { ...set.manifest.dropped };
  while (set.examples.length < o.count && attempts < o.maxAttempts) {
    const n = Math.min(o.batch, o.maxAttempts - attempts);
    const proposals = await o.propose(attempts, n);
    const kept: GeneratedExample[] = [];
    proposals.forEach((p, k) => {
      if (!p || p.text.trim() === '' || set.examples.length + kept.length >= o.count) return;
      const why = dd.offer(p.text);
      if (why) dropped[why]++;
      else kept.push({ i: attempts + k, ...p });
    });
    attempts += n;
    const done = set.examples.length + kept.length >= o.count || attempts >= o.maxAttempts;
    set.commit(kept, attempts, dropped, done);
    o.onProgress?.(set.manifest);
  }
  if (set.examples.length < o.count && !set.manifest.complete) set.commit([], attempts, dropped, true);
  return set;
}
