// Distillation from sparse teacher targets: the teacher's top-k token ids and their log-probs per
// position (what a cached logit store or an OpenAI-compatible API's top_logprobs returns).
//
// Both sides become distributions over k + 1 outcomes: the k ids, plus one 'rest' bucket holding
// all other tokens' mass, so the targets stay normalized without knowing the tail.
//   teacher: p_i = exp(logprob_i),          rest_p = max(1 − Σ p_i, ε)
//   student: q_i = softmax(z_s/T)[id_i],    rest_q = max(1 − Σ q_i, ε)
// log q_i is read straight from logSoftmax (exact); only the rest bucket goes through 1 − Σ, floored
// at ε (`restEps`) so its log stays finite when the top-k covers nearly all mass.
//
// Temperature. The student is tempered exactly: softmax over its full vocabulary at T. The teacher's
// log-probs are given at T = 1 over a vocabulary we do not see, so its tempered distribution
// cannot be rebuilt exactly. We temper within the top-k and keep the tail's mass as it was at T = 1:
//   p_i^T = (1 − rest_p)·softmax_k(logprob/T)_i,   rest_p^T = rest_p.
// At T = 1 this is the given distribution; with k = V (rest_p = 0) it is exactly softmax(z_t/T),
// so the loss equals the dense logit KD at any T.
//
// The stored tail. A compact store rounds log-probs to fp16 (2^-11 of their size), and 1 − Σ of
// rounded probabilities can lose a small rest entirely; it keeps log(rest_p) itself instead. When
// the targets carry it (`teacher.tail`, used unless `tail: false`), the rest bucket is that mass and
// the k entries are renormalized to fill the other 1 − rest_p:
//   rest_p = clamp(exp(tail), ε, 1 − ε),   p_i^T = (1 − rest_p)·softmax_k(logprob/T)_i.
//
// Sampled targets (Sparse Logit Sampling, Anshumann et al., ACL 2025). The entries are distinct
// tokens drawn from the teacher, logprob_i = log(count_i / n), tail = "nothing outside", so the
// buckets are w_i (up to the ε floor of the rest). E[w_i] = p_i, so the forward-KL gradient
// −Σ w_i ∇log q_i is unbiased for −Σ p_i ∇log q_i over the whole vocabulary; the ε rest bucket adds
// a gradient of L1 norm at most 2ε. The estimate holds at T = 1 and for forward KL only (the other
// divergences need p where the student puts mass), so other settings are refused.
import {
  add,
  concat,
  div,
  exp,
  fmt,
  less,
  log,
  logSoftmax,
  maximum,
  minimum,
  reduceSum,
  slice,
  sub,
  takeAlongLastAxis,
  type Tensor,
  where,
} from '../../graph/index.ts';
import { z } from 'zod';
import { kdFields, kdObjective, type KdOptions } from './kd-objective.ts';
import { need, type DistillBatch, type DistillLoss, type LossOutput, type SparseTargets } from './types.ts';
import { commonVocab } from './vocab.ts';

const topkFields = {
  ...kdFields,
  /** Floor ε of both rest buckets: bounds log(rest) and the rest term's gradient (≤ p_rest/ε). */
  restEps: z.number().positive().max(1e-2).default(1e-6),
  /**
   * Use the teacher's stored tail mass for the rest bucket when its targets carry one (compact
   * stores), renormalizing the k entries to 1 − rest; false recomputes the rest as 1 − Σ exp(logprobs).
   */
  tail: z.boolean().default(true),
};
export const topkKdSchema = z.object({ kind: z.literal('topk'), ...topkFields });
export type TopkKdConfig = z.output<typeof topkKdSchema>;
export type TopkOptions = KdOptions & { restEps: number; tail?: boolean };

/** log of the rest bucket 1 − Σ exp(logp), floored at eps: (…, k) → (…, 1). */
function logRest(logp: Tensor, eps: number): Tensor {
  return log(maximum(sub(1, reduceSum(exp(logp), -1, true)), eps));
}

/**
 * Teacher log-probs over the k + 1 buckets at temperature T (see the header): the rest from `tail`
 * (…, 1) when given, else 1 − Σ exp(logprobs). (…, k) → (…, k + 1)
 */
export function teacherBuckets(logprobs: Tensor, temperature: number, eps: number, tail?: Tensor): Tensor {
  if (tail) {
    const rest = log(minimum(maximum(exp(tail), eps), 1 - eps)); // (…, 1)
    const within = logSoftmax(temperature === 1 ? logprobs : div(logprobs, temperature), -1); // (…, k)
    return concat([add(within, log(sub(1, exp(rest)))), rest], -1);
  }
  const rest = logRest(logprobs, eps); // (…, 1)
  if (temperature === 1) return concat([logprobs, rest], -1);
  const within = logSoftmax(div(logprobs, temperature), -1); // (…, k), sums to 1 over the top-k
  const topMass = log(sub(1, exp(rest))); // (…, 1): log(1 − rest_p)
  return concat([add(within, topMass), rest], -1);
}

/** Student log-probs over the k + 1 buckets: logSoftmax(z/T) at the ids, and the rest. (…, V) → (…, k + 1) */
export function studentBuckets(logits: Tensor, ids: Tensor, temperature: number, eps: number, keep?: Tensor): Tensor {
  const ls = logSoftmax(temperature === 1 ? logits : div(logits, temperature), -1); // (…, V)
  const gathered = takeAlongLastAxis(ls, keep ? where(keep, ids, 0) : ids); // (…, k)
  const atIds = keep ? where(keep, gathered, NO_MASS) : gathered;
  return concat([atIds, logRest(atIds, eps)], -1);
}

/** The log-prob of an entry that holds no mass (exp underflows to 0 in float32; its KL terms are 0). */
const NO_MASS = -1e4;

export interface TopkKdInputs {
  /** (…, V) */
  student: Tensor;
  teacher: SparseTargets;
  labels?: Tensor;
  mask?: Tensor;
}

/** α·T²·mean D(teacher buckets ‖ student buckets) + (1−α)·CE(student, labels). */
export function topkKdLoss(x: TopkKdInputs, o: TopkOptions): LossOutput {
  const { ids, logprobs } = x.teacher;
  const lead = x.student.shape.slice(0, -1);
  const fits = (t: Tensor) => t.rank === x.student.rank && lead.every((d, i) => d === t.shape[i]);
  if (!fits(ids) || !fits(logprobs) || ids.shape[ids.rank - 1] !== logprobs.shape[logprobs.rank - 1]) {
    throw new Error(
      `top-k KD: teacher ids ${fmt(ids.shape)} and logprobs ${fmt(logprobs.shape)} must both be (…, k) with the student logits' leading shape ${fmt(lead)}`,
    );
  }
  const tail = o.tail === false ? undefined : x.teacher.tail;
  if (tail && (!fits(tail) || tail.shape[tail.rank - 1] !== 1))
    throw new Error(
      `top-k KD: teacher tail ${fmt(tail.shape)} must be (…, 1) with the student logits' leading shape ${fmt(lead)}`,
    );
  if (x.teacher.targets === 'sampled' && (o.temperature !== 1 || o.divergence !== 'forwardKl'))
    throw new Error(
      `top-k KD: the teacher's targets are sampled (drawn tokens weighted count / draws, an unbiased estimate of its distribution at temperature 1), which give an unbiased gradient of forward KL only; got temperature ${o.temperature} and divergence ${o.divergence}. Set temperature: 1 and divergence: forwardKl in the term's loss, or label the store with targets: topk`,
    );
  // The teacher's width is unknown here; only an explicit realVocab cuts the student's pad rows.
  const v = commonVocab(x.student.shape[x.student.rank - 1]!, undefined, o.realVocab);
  const student = slice(x.student, -1, 0, v);
  // Teacher ids past the student's vocabulary (a teacher's padded embedding rows: Qwen2.5 has
  // 151,936 rows for 151,669 tokens) are no tokens of the student: those entries hold no mass on
  // either side, so their share goes to the rest bucket instead of indexing past the logits.
  const inVocab = less(ids, v);
  return kdObjective(
    {
      teacherLogp: teacherBuckets(where(inVocab, logprobs, NO_MASS), o.temperature, o.restEps, tail),
      studentLogp: studentBuckets(student, ids, o.temperature, o.restEps, inVocab),
      studentLogits: student,
      labels: x.labels,
      mask: x.mask,
    },
    o,
    'top-k KD',
  );
}

export function createTopkKd(c: TopkKdConfig): DistillLoss {
  return {
    kind: 'topk',
    params: new Map(),
    forward: (b: DistillBatch) =>
      topkKdLoss(
        {
          student: need(
            b.student.logits,
            'top-k KD',
            'student.logits',
            "pass the student's logits (B, T, V); fromDecoder(out) fills them",
          ),
          teacher: need(
            b.teacher.topk,
            'top-k KD',
            'teacher.topk',
            "give the teacher's top-k { ids, logprobs } (B, T, k), or use kind 'logits' with dense teacher logits",
          ),
          labels: b.labels,
          mask: b.mask,
        },
        c,
      ),
  };
}
