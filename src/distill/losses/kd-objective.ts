// The objective logit KD and sparse top-k KD share (Hinton et al. 2015, §2):
//   loss = α·T²·mean D(p_teacher^T ‖ p_student^T) + (1 − α)·CE(student at T = 1, hard labels)
// T² keeps the soft term's gradients the same size as T changes (∂/∂z scales as 1/T²).
// Positions whose label is ignoreIndex, or which the batch mask drops, count in neither term, and
// the soft term is averaged over the positions that remain (the cross-entropy op does the same).
import { add, crossEntropy, fmt, mul, type Tensor } from '../../graph/index.ts';
import { z } from 'zod';
import { divergenceFields, divergences, type DivergenceOptions } from './divergence.ts';
import { forwardKlMean } from './forward-kl.ts';
import { keepOf, maskedMean, maskLabels } from './mask.ts';
import type { LossOutput } from './types.ts';

export const kdFields = {
  ...divergenceFields,
  /** Softmax temperature T of both distributions in the soft term; the hard term uses T = 1. */
  temperature: z.number().positive().default(1),
  /** Weight α of the soft (KD) term; 1 − α goes to cross-entropy on hard labels (needs labels when < 1). */
  alpha: z.number().min(0).max(1).default(0.5),
  /** Label value that marks positions to skip (Hugging Face's −100). */
  ignoreIndex: z.number().int().default(-100),
  /**
   * The tokenizer's true vocabulary size. Logits wider than it (padded embedding tables) are cut
   * to it before the softmax; unset, differing widths are cut to the smaller one. See vocab.ts.
   */
  realVocab: z.number().int().positive().optional(),
};
const kdObjectiveSchema = z.object(kdFields);
export type KdOptions = z.output<typeof kdObjectiveSchema>;

export interface KdInputs {
  /** Teacher log-probabilities at temperature T (…, K). */
  teacherLogp: Tensor;
  /** Student log-probabilities at temperature T (…, K), over the same K outcomes. */
  studentLogp: Tensor;
  /** Student logits (…, V) at temperature 1, for the hard-label term. */
  studentLogits: Tensor;
  /**
   * The logits both log-probabilities were computed from, when they are dense (K = V): forward KL
   * then takes its gradient in closed form (forward-kl.ts) instead of through autodiff's trace.
   */
  logits?: { teacher: Tensor; student: Tensor };
  labels?: Tensor;
  mask?: Tensor;
}

export function kdObjective(x: KdInputs, o: KdOptions, who: string): LossOutput {
  const lead = x.studentLogits.shape.slice(0, -1);
  let keep: Tensor | undefined = x.mask ? keepOf(x.mask) : undefined;
  let labels: Tensor | undefined;
  if (x.labels) {
    if (x.labels.rank !== lead.length || x.labels.shape.some((d, i) => d !== lead[i])) {
      throw new Error(
        `${who}: labels ${fmt(x.labels.shape)} must have the logits' leading shape ${fmt(lead)} (one label per position, already shifted)`,
      );
    }
    ({ labels, keep } = maskLabels(x.labels, o.ignoreIndex, x.mask));
  } else if (o.alpha < 1) {
    throw new Error(
      `${who}: alpha is ${o.alpha}, so ${1 - o.alpha} of the loss is cross-entropy on hard labels, but batch.labels is missing; pass labels or set alpha: 1`,
    );
  }
  const t = o.temperature;
  const meanD =
    x.logits && isForwardKl(o)
      ? forwardKlMean({
          teacherLogp: x.teacherLogp,
          studentLogp: x.studentLogp,
          teacherLogits: x.logits.teacher,
          studentLogits: x.logits.student,
          temperature: t,
          keep,
        })
      : maskedMean(divergences[o.divergence](x.teacherLogp, x.studentLogp, o), keep);
  const kd = mul(meanD, t * t);
  if (!labels || o.alpha === 1) return { loss: kd, parts: { kd } }; // no labels means alpha is 1 (checked above)
  const ce = crossEntropy(x.studentLogits, labels, o.ignoreIndex);
  const loss = o.alpha === 0 ? ce : add(mul(kd, o.alpha), mul(ce, 1 - o.alpha));
  return { loss, parts: { kd, ce } };
}

/** Whether the configured divergence is KL(p‖q) itself: forwardKl, and the endpoints jsd β 0 and skewKl skew 0. */
function isForwardKl(o: { divergence: string } & DivergenceOptions): boolean {
  return (
    o.divergence === 'forwardKl' ||
    (o.divergence === 'jsd' && o.beta === 0) ||
    (o.divergence === 'skewKl' && o.skew === 0)
  );
}
