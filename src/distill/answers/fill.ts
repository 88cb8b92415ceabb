// Filling an answer store, and choosing which answers to train on. The fill skips prompts already
// answered and commits after every batch, so a killed run resumes where its last commit stood.
// The filters take the answer-matching functions as parameters (src/data/task/metrics.ts's
// normalizeAnswer and chrF are what the strategy passes).
import type { AnswerStore, StoredAnswer } from './store.ts';

export interface FillOptions {
  /** Prompts per generate call. */
  batch: number;
  onProgress?: (done: number, total: number) => void;
}

export async function fillAnswerStore<P extends { id: string }>(
  store: AnswerStore,
  prompts: readonly P[],
  generate: (batch: P[]) => Promise<StoredAnswer[][]>,
  o: FillOptions,
): Promise<{ generated: number; skipped: number }> {
  const first = new Map<string, number>();
  prompts.forEach((p, i) => {
    const j = first.get(p.id);
    if (j !== undefined)
      throw new Error(`fillAnswerStore: prompts ${j} and ${i} share the id '${p.id}'; each prompt needs its own id`);
    first.set(p.id, i);
  });
  const todo = prompts.filter((p) => !store.has(p.id));
  const skipped = prompts.length - todo.length;
  for (let i = 0; i < todo.length; i += o.batch) {
    const batch = todo.slice(i, i + o.batch);
    const answers = await generate(batch);
    if (answers.length !== batch.length)
      throw new Error(`fillAnswerStore: ${batch.length} prompts got ${answers.length} answer lists back`);
    batch.forEach((p, k) => store.append(p.id, answers[k]!));
    store.commit();
    o.onProgress?.(skipped + i + batch.length, prompts.length);
  }
  return { generated: todo.length, skipped };
}

export interface FilterOptions {
  dropEmpty: boolean;
  dropTruncated: boolean;
  dedupe: boolean;
  /** The prompt's reference answer, for `match`. */
  reference?: string;
  match?: { kind: 'exact' } | { kind: 'chrF'; min: number };
  /** Exact-match normalization. */
  normalize: (s: string) => string;
  /** chrF(pred, ref) on 0..100. */
  score: (pred: string, ref: string) => number;
}

export type DropReason = 'empty' | 'truncated' | 'duplicate' | 'noMatch';

export function filterAnswers(
  answers: readonly StoredAnswer[],
  o: FilterOptions,
): { kept: StoredAnswer[]; dropped: Record<DropReason, number> } {
  const dropped: Record<DropReason, number> = { empty: 0, truncated: 0, duplicate: 0, noMatch: 0 };
  const seen = new Set<string>();
  const kept: StoredAnswer[] = [];
  for (const a of answers) {
    if (o.dropEmpty && a.text.trim() === '') dropped.empty++;
    else if (o.dropTruncated && a.finish === 'length') dropped.truncated++;
    else if (o.dedupe && seen.has(a.text.trim())) dropped.duplicate++;
    else if (
      o.match &&
      o.reference !== undefined &&
      !(o.match.kind === 'exact'
        ? o.normalize(a.text) === o.normalize(o.reference)
        : o.score(a.text, o.reference) >= o.match.min)
    )
      dropped.noMatch++;
    else {
      seen.add(a.text.trim());
      kept.push(a);
    }
  }
  return { kept, dropped };
}
