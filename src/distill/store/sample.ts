// Sampled targets (Sparse Logit Sampling, Anshumann et al., ACL 2025, "Random Sampling KD"): a
// position keeps the distinct tokens of n draws from the teacher's distribution p, each weighted by
// count / n. E[count_x / n] = p(x), so the weights are an unbiased estimate of p, and the forward-KL
// gradient they give the student, −Σ_x w_x ∇log q(x), equals −Σ_x p(x) ∇log q(x) in expectation.
// About 12 draws per position match full distillation in the paper; top-k keeps only the head of p
// and so estimates it with a bias (the tail's mass is dropped or spread evenly).
// The proposal is p itself (draws at temperature 1), so the weights need no p/q correction and sum to 1.
import { rng32 } from '../../runtime/index.ts';
import { F16_MAX } from './codec.ts';

/** A position's own stream: the same draws whichever shard or rerun labels the example. */
export function streamSeed(seed: number, example: number, position: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (example >>> 0) ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ position ^ (h >>> 16), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * n draws from softmax(logits[off … off + v)) with uniforms from `next`: the distinct ids, most
 * drawn first (ties by id), and their counts. Inverse CDF over sorted uniforms: one pass over v.
 */
export function drawCounts(
  logits: ArrayLike<number>,
  off: number,
  v: number,
  n: number,
  next: () => number,
): { ids: number[]; counts: number[] } {
  let max = -Infinity;
  for (let j = 0; j < v; j++) max = Math.max(max, logits[off + j]!);
  let total = 0;
  for (let j = 0; j < v; j++) total += Math.exp(logits[off + j]! - max);
  const u = Array.from({ length: n }, () => next() * total).sort((a, b) => a - b);
  const counts = new Map<number, number>();
  let cum = 0,
    d = 0;
  for (let j = 0; j < v && d < n; j++) {
    cum += Math.exp(logits[off + j]! - max);
    // cum ends at exactly `total` (the same sums in the same order) and every u is below it, so all n land.
    while (d < n && u[d]! < cum) {
      counts.set(j, (counts.get(j) ?? 0) + 1);
      d++;
    }
  }
  const ids = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || a - b);
  return { ids, counts: ids.map((i) => counts.get(i)!) };
}

/** Log-weight of the padding slots (fewer distinct tokens than draws): exp is 0, and it stays finite. */
export const PAD_LOGPROB = -F16_MAX;

/**
 * One example's sampled targets: per position, `slots` entries (ids, log(count / slots)), the
 * distinct drawn tokens first, then padding with weight 0 on the smallest ids not drawn (so a
 * position's ids stay distinct). The tail is "no mass outside the entries" (PAD_LOGPROB).
 */
export function sampledTargets(
  logits: ArrayLike<number>,
  width: number,
  o: { seq: number; vocabSize: number; slots: number; seed: number; example: number; base?: number },
): { ids: Int32Array; logprobs: Float32Array; tail: Float32Array } {
  const { seq, slots } = o;
  const v = Math.min(width, o.vocabSize);
  if (slots > v)
    throw new RangeError(
      `${slots} draws per position cannot have distinct slots in a vocabulary of ${v}; use at most ${v} samples`,
    );
  const ids = new Int32Array(seq * slots);
  const logprobs = new Float32Array(seq * slots).fill(PAD_LOGPROB);
  for (let t = 0; t < seq; t++) {
    const rng = rng32(streamSeed(o.seed, o.example, t));
    const drawn = drawCounts(logits, (o.base ?? 0) + t * width, v, slots, rng.next);
    const used = new Set(drawn.ids);
    let filler = 0;
    for (let j = 0; j < slots; j++) {
      if (j < drawn.ids.length) {
        ids[t * slots + j] = drawn.ids[j]!;
        logprobs[t * slots + j] = Math.log(drawn.counts[j]! / slots);
      } else {
        while (used.has(filler)) filler++;
        ids[t * slots + j] = filler++;
      }
    }
  }
  return { ids, logprobs, tail: new Float32Array(seq).fill(PAD_LOGPROB) };
}
