// Divergences between a teacher distribution p and a student distribution q, one row per kind.
// Every row takes log-probabilities (…, K) and returns the per-position divergence (…): working
// in log space keeps each term finite where probabilities underflow, and the same rows serve the
// dense logits (K = V) and the sparse top-k buckets (K = k + 1).
import { add, exp, log, maximum, mul, reduceSum, sub, type Tensor } from '../../graph/index.ts';
import { z } from 'zod';

export const divergenceKinds = ['forwardKl', 'reverseKl', 'jsd', 'skewKl', 'skewReverseKl'] as const;
export type DivergenceKind = (typeof divergenceKinds)[number];

export const divergenceFields = {
  /**
   * forwardKl: KL(p‖q), mode-covering (Hinton et al. 2015). reverseKl: KL(q‖p), mode-seeking
   * (MiniLLM, Gu et al. 2024). jsd: generalized JSD_β (GKD, Agarwal et al. 2024). skewKl / skewReverseKl:
   * α-skew KL and reverse KL (DistiLLM, Ko et al. 2024).
   */
  divergence: z.enum(divergenceKinds).default('forwardKl'),
  /** JSD's β: the teacher's share of the mixture m = β·p + (1−β)·q. 0 means forwardKl, 1 means reverseKl. */
  beta: z.number().min(0).max(1).default(0.5),
  /** The skew α of skewKl and skewReverseKl: how much of the divergence's first argument is mixed into the second. */
  skew: z
    .number()
    .min(0)
    .lt(1, { message: 'skew must be below 1 (at 1 the skewed divergence is identically 0)' })
    .default(0.1),
};

export interface DivergenceOptions {
  beta: number;
  skew: number;
}

/** KL(x‖y) = Σ x·(log x − log y) over the last axis, from log-probabilities. */
export function klFromLogs(lx: Tensor, ly: Tensor): Tensor {
  return reduceSum(mul(exp(lx), sub(lx, ly)), -1); // (…)
}

/**
 * log(w·x + (1−w)·y) from log x and log y, 0 < w < 1, by log-sum-exp: the larger term is pulled
 * out so neither exp underflows to a log(0). (Its gradient through the max cancels exactly.)
 */
export function logMixture(lx: Tensor, ly: Tensor, w: number): Tensor {
  const a = add(lx, Math.log(w)),
    b = add(ly, Math.log(1 - w));
  const m = maximum(a, b);
  return add(m, log(add(exp(sub(a, m)), exp(sub(b, m)))));
}

type DivergenceRule = (lp: Tensor, lq: Tensor, o: DivergenceOptions) => Tensor;

/** lp: teacher log-probs, lq: student log-probs, both (…, K). Each row returns (…). */
export const divergences = {
  // Hinton et al. 2015, eq. 2's soft-target cross-entropy less the teacher's entropy.
  forwardKl: (lp, lq) => klFromLogs(lp, lq),
  reverseKl: (lp, lq) => klFromLogs(lq, lp),
  // GKD (Agarwal et al. 2024), generalized JSD: β·KL(p‖m) + (1−β)·KL(q‖m), m = β·p + (1−β)·q.
  // At β = 0 or 1 the mixture is p or q itself and JSD_β ≡ 0; as in the paper's remark and TRL's
  // GKDTrainer those endpoints mean KL(p‖q) and KL(q‖p), the limits of JSD_β/β and JSD_β/(1−β).
  jsd: (lp, lq, { beta }) => {
    if (beta === 0) return klFromLogs(lp, lq);
    if (beta === 1) return klFromLogs(lq, lp);
    const lm = logMixture(lp, lq, beta);
    return add(mul(klFromLogs(lp, lm), beta), mul(klFromLogs(lq, lm), 1 - beta));
  },
  // DistiLLM (Ko et al. 2024), α-skew KL: SKL^(α)(p, q) = KL(p ‖ α·p + (1−α)·q). α = 0 is forward KL.
  skewKl: (lp, lq, { skew }) => klFromLogs(lp, skew === 0 ? lq : logMixture(lp, lq, skew)),
  // DistiLLM's α-skew reverse KL: SRKL^(α)(p, q) = KL(q ‖ (1−α)·p + α·q). α = 0 is reverse KL.
  skewReverseKl: (lp, lq, { skew }) => klFromLogs(lq, skew === 0 ? lp : logMixture(lq, lp, skew)),
} satisfies Record<DivergenceKind, DivergenceRule>;
