// The target kinds a store can hold, one row each: what labelling asks the teacher for, which
// teachers can give it, and how a scored row becomes a record's entries (ids, log-probs, tail).
import type { ScoreResult, Teacher } from '../../teachers/index.ts';
import type { StoreLayout, TargetKind } from './format.ts';
import { sampledTargets } from './sample.ts';

export interface Entries {
  ids: Int32Array; // (T·k)
  logprobs: Float32Array; // (T·k)
  tail: Float32Array; // (T)
}

export interface TargetRow {
  readonly cite: string;
  /** What the labelling loop asks the teacher for (it adds the hidden states). */
  request(l: StoreLayout): { topK?: number; logits?: boolean };
  /** Why `t` cannot label these targets and what to do instead, or undefined when it can. */
  refuse(t: Teacher): string | undefined;
  /** Row b of a scored batch as one record's entries; `example` is the row's index in the dataset. */
  entries(r: ScoreResult, b: number, l: StoreLayout, example: number): Entries;
}

/**
 * Each position's log(1 − Σ exp(logprob)): the log of the mass outside the k entries, computed in
 * float64 from the teacher's float32 log-probs before they are rounded for storage. −∞ when the
 * entries hold all the mass (or, through rounding, more).
 */
export function tailOf(logprobs: ArrayLike<number>, seq: number, k: number): Float32Array {
  const out = new Float32Array(seq);
  for (let t = 0; t < seq; t++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logprobs[t * k + j]!);
    out[t] = s < 1 ? Math.log1p(-s) : -Infinity;
  }
  return out;
}

export const targetRows = {
  topk: {
    cite: "The teacher's k most likely tokens and their log-probs at temperature 1 (cached-logit KD)",
    request: (l) => ({ topK: l.topK }),
    refuse: (t) => (t.capabilities.topK ? undefined : `teacher '${t.name}' (${t.kind}) returns no top-k log-probs`),
    entries(r, b, l) {
      const n = l.seq * l.topK;
      const logprobs = (r.topk!.logprobs.data as Float32Array).slice(b * n, (b + 1) * n);
      return {
        ids: Int32Array.from((r.topk!.ids.data as BigInt64Array).subarray(b * n, (b + 1) * n), Number),
        logprobs,
        tail: tailOf(logprobs, l.seq, l.topK),
      };
    },
  },
  sampled: {
    cite: 'Sparse Logit Sampling (Anshumann et al., ACL 2025): distinct drawn tokens weighted count / draws, an unbiased estimate of the teacher',
    request: () => ({ logits: true }),
    refuse: (t) =>
      t.capabilities.logits
        ? undefined
        : `targets 'sampled' draw from the teacher's whole next-token distribution, but teacher '${t.name}' (${t.kind}) returns top-k log-probs only; use targets: topk, or a teacher that returns logits (a Retort folder or an ONNX file)`,
    entries(r, b, l, example) {
      const [, t, width] = r.logits!.shape as [number, number, number];
      return sampledTargets(r.logits!.data as Float32Array, width, {
        seq: l.seq,
        vocabSize: l.vocabSize,
        slots: l.topK,
        seed: l.seed ?? 0,
        example,
        base: b * t * width,
      });
    },
  },
} satisfies Record<TargetKind, TargetRow>;
