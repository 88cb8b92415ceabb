// Attention-map distillation: the student's attention distributions learn the teacher's, by
// KL(A_teacher ‖ A_student) per query row (MiniLM, Wang et al. 2020: the self-attention distribution
// transfer L_AT = 1/(A_h·|x|) Σ_a Σ_t KL(A^T_{a,t} ‖ A^S_{a,t}), averaged over heads and positions). Heads are paired one to one when
// the counts match; otherwise (or when asked) each side is first averaged over its heads, and a
// mean of distributions is still a distribution. Rows masked by causal structure are fine: their
// probabilities are 0, and a small ε inside the logs keeps 0·log 0 at 0.
import { add, expand, fmt, log, mul, reduceMean, reduceSum, reshape, sub, type Tensor } from '../../graph/index.ts';
import { z } from 'zod';
import { layerMapSchema, layerPairs, layerWeightsField, pairWeights } from './layer-map.ts';
import { maskedMean } from './mask.ts';
import { need, type DistillBatch, type DistillLoss, type LossOutput } from './types.ts';

export const headModes = ['auto', 'average'] as const;

export const attentionLossSchema = z.object({
  kind: z.literal('attention'),
  /** Layers are block numbers from 1 (see layer-map.ts); MiniLM transfers the last block only. */
  layers: layerMapSchema.default({ kind: 'last-k', k: 1 }),
  weights: layerWeightsField,
  /** auto: pair heads one to one when the counts match, else average over heads. average: always average. */
  heads: z.enum(headModes).default('auto'),
  /** Added to probabilities inside the logs. */
  eps: z.number().positive().default(1e-8),
});
export type AttentionLossConfig = z.output<typeof attentionLossSchema>;

export interface AttentionKlOptions {
  heads: (typeof headModes)[number];
  eps: number;
  /** (B, T) keep-mask over query rows. */
  mask?: Tensor;
}

/** mean over kept (B, H, T) rows of Σ_S a_t·(log(a_t + ε) − log(a_s + ε)); teacher, student (B, H, T, S). */
export function attentionMapKl(teacher: Tensor, student: Tensor, o: AttentionKlOptions): Tensor {
  const [b, ht, t, s] = teacher.shape;
  const [b2, hs, t2, s2] = student.shape;
  if (teacher.rank !== 4 || student.rank !== 4 || b !== b2 || t !== t2 || s !== s2) {
    throw new Error(
      `attention-map loss: teacher ${fmt(teacher.shape)} and student ${fmt(student.shape)} must both be (B, H, T, S) with the same B, T and S`,
    );
  }
  const average = o.heads === 'average' || ht !== hs;
  const at = average ? reduceMean(teacher, 1, true) : teacher; // (B, H', T, S)
  const as = average ? reduceMean(student, 1, true) : student;
  const rows = reduceSum(mul(at, sub(log(add(at, o.eps)), log(add(as, o.eps)))), -1); // (B, H', T)
  const keep = o.mask ? expand(reshape(o.mask, [b!, 1, t!]), rows.shape) : undefined;
  return maskedMean(rows, keep);
}

/** Σ w_i·ℓ_i / Σ w_i over the configured block pairs of two per-block tensor lists. */
export function overLayerPairs(
  who: string,
  config: { layers: z.input<typeof layerMapSchema>; weights?: number[] },
  student: readonly Tensor[],
  teacher: readonly Tensor[],
  pairLoss: (s: Tensor, t: Tensor) => Tensor,
): LossOutput {
  const pairs = layerPairs(config.layers, student.length, teacher.length, false);
  const weights = pairWeights(config.weights, pairs, who);
  const parts: Record<string, Tensor> = {};
  let total: Tensor | undefined;
  pairs.forEach(([s, t], i) => {
    const l = pairLoss(student[s - 1]!, teacher[t - 1]!);
    parts[`layer${s}_${t}`] = l;
    const wl = mul(l, weights[i]!);
    total = total ? add(total, wl) : wl;
  });
  return { loss: mul(total!, 1 / weights.reduce((a, w) => a + w, 0)), parts };
}

export function createAttentionLoss(c: AttentionLossConfig): DistillLoss {
  return {
    kind: 'attention',
    params: new Map(),
    forward: (b: DistillBatch) =>
      overLayerPairs(
        'attention-map loss',
        c,
        need(
          b.student.attentions,
          'attention-map loss',
          'student.attentions',
          "pass the student's attention probabilities per block; fromDecoder(out) fills them",
        ),
        need(
          b.teacher.attentions,
          'attention-map loss',
          'teacher.attentions',
          'the teacher must return its attention probabilities; an API teacher cannot, so drop this loss',
        ),
        (s, t) => attentionMapKl(t, s, { heads: c.heads, eps: c.eps, mask: b.mask }),
      ),
  };
}
