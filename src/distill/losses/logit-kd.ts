// Logit distillation from a dense teacher (Hinton et al. 2015): soft targets softmax(z_t/T) from
// the teacher's full logits, compared with the student's softmax(z_s/T) by the configured
// divergence, plus cross-entropy on hard labels. Works for causal LMs (logits (B, T, V), labels
// (B, T)) and classifiers (logits (B, C), labels (B)) alike: every axis but the last is a position.
import { div, fmt, logSoftmax, type Tensor } from '../../graph/index.ts';
import { z } from 'zod';
import { kdFields, kdObjective, type KdOptions } from './kd-objective.ts';
import { need, type DistillBatch, type DistillLoss, type LossOutput } from './types.ts';
import { alignVocab } from './vocab.ts';

export const logitKdSchema = z.object({ kind: z.literal('logits'), ...kdFields });
export type LogitKdConfig = z.output<typeof logitKdSchema>;

export interface LogitKdInputs {
  /** (…, V) */
  student: Tensor;
  /** (…, V'), V' = V or V padded differently. */
  teacher: Tensor;
  /** (…) int64 */
  labels?: Tensor;
  /** (…) keep-mask */
  mask?: Tensor;
}

/** α·T²·mean D(softmax(t/T) ‖ softmax(s/T)) + (1−α)·CE(s, labels). */
export function logitKdLoss(x: LogitKdInputs, o: KdOptions): LossOutput {
  const lead = x.student.shape.slice(0, -1);
  if (x.teacher.rank !== x.student.rank || lead.some((d, i) => d !== x.teacher.shape[i])) {
    throw new Error(
      `logit KD: teacher logits ${fmt(x.teacher.shape)} and student logits ${fmt(x.student.shape)} must agree in every axis but the vocabulary`,
    );
  }
  const { student, teacher } = alignVocab(x.student, x.teacher, o.realVocab);
  const t = o.temperature;
  const scaled = (z: Tensor) => (t === 1 ? z : div(z, t));
  return kdObjective(
    {
      teacherLogp: logSoftmax(scaled(teacher), -1),
      studentLogp: logSoftmax(scaled(student), -1),
      studentLogits: student,
      logits: { teacher, student },
      labels: x.labels,
      mask: x.mask,
    },
    o,
    'logit KD',
  );
}

export function createLogitKd(c: LogitKdConfig): DistillLoss {
  return {
    kind: 'logits',
    params: new Map(),
    forward: (b: DistillBatch) =>
      logitKdLoss(
        {
          student: need(
            b.student.logits,
            'logit KD',
            'student.logits',
            "pass the student's logits (B, T, V); fromDecoder(out) fills them",
          ),
          teacher: need(
            b.teacher.logits,
            'logit KD',
            'teacher.logits',
            "give the teacher's logits (B, T, V), or use kind 'topk' for sparse top-k targets",
          ),
          labels: b.labels,
          mask: b.mask,
        },
        c,
      ),
  };
}
