// Value-relation transfer (MiniLM, Wang et al. 2020): per head, the relation of a
// layer's value vectors to each other, VR = softmax(V·Vᵀ/√d), and the loss KL(VR_teacher ‖ VR_student)
// averaged over relation heads and positions. When the two models' heads differ, both sides'
// heads are concatenated and re-split into a common number of relation heads (MiniLM-v2, Wang et
// al. 2021, multi-head self-attention relations), so only the total width must divide evenly.
// The same function serves query–query and key–key relations when a model exposes those vectors.
import { causalMask, fmt, logSoftmax, matmul, mul, reshape, where, type Tensor } from '../../graph/index.ts';
import { mergeHeads, splitHeads } from '../../nn/index.ts';
import { z } from 'zod';
import { klFromLogs } from './divergence.ts';
import { layerMapSchema, layerWeightsField } from './layer-map.ts';
import { overLayerPairs } from './attention.ts';
import { keepOf, maskedMean } from './mask.ts';
import { need, type DistillBatch, type DistillLoss } from './types.ts';

export const valueRelationSchema = z.object({
  kind: z.literal('valueRelation'),
  /** Block numbers from 1 (see layer-map.ts); MiniLM uses the last block. */
  layers: layerMapSchema.default({ kind: 'last-k', k: 1 }),
  weights: layerWeightsField,
  /**
   * Relation heads both sides are re-split into. Default: the heads themselves when the counts
   * match, else the student's head count (which must divide the teacher's width H·hs).
   */
  relationHeads: z.number().int().positive().optional(),
  /** Let position t relate only to positions ≤ t (MiniLM relates all; a causal LM may prefer this). */
  causal: z.boolean().default(false),
});
export type ValueRelationConfig = z.output<typeof valueRelationSchema>;

export interface ValueRelationOptions {
  relationHeads?: number;
  causal?: boolean;
  /** (B, T) keep-mask: dropped positions are neither related to nor averaged over. */
  mask?: Tensor;
}

/** (B, H, T, hs) → (B, R, T, H·hs/R): heads concatenated, then re-split. */
function regroup(v: Tensor, r: number): Tensor {
  return v.shape[1] === r ? v : splitHeads(mergeHeads(v), r);
}

/** log softmax(X·Xᵀ/√d) per relation head: (B, R, T, d) → (B, R, T, T). */
function logRelation(x: Tensor, o: ValueRelationOptions): Tensor {
  const [b, , t, d] = x.shape as [number, number, number, number];
  let scores = matmul(mul(x, 1 / Math.sqrt(d)), x, { transB: true }); // (B, R, T, T)
  if (o.causal) scores = causalMask(scores);
  if (o.mask) scores = where(reshape(keepOf(o.mask), [b, 1, 1, t]), scores, -1e9);
  return logSoftmax(scores, -1);
}

/** MiniLM's L_VR between teacher values (B, Ht, T, hs_t) and student values (B, Hs, T, hs_s). */
export function valueRelationKl(teacher: Tensor, student: Tensor, o: ValueRelationOptions = {}): Tensor {
  if (
    teacher.rank !== 4 ||
    student.rank !== 4 ||
    teacher.shape[0] !== student.shape[0] ||
    teacher.shape[2] !== student.shape[2]
  ) {
    throw new Error(
      `value-relation loss: teacher ${fmt(teacher.shape)} and student ${fmt(student.shape)} must both be (B, H, T, hs) with the same B and T`,
    );
  }
  const [b, ht, t, dt] = teacher.shape as [number, number, number, number];
  const [, hs, , ds] = student.shape as [number, number, number, number];
  const r = o.relationHeads ?? (ht === hs ? ht : hs);
  if ((ht * dt) % r !== 0 || (hs * ds) % r !== 0) {
    throw new Error(
      `value-relation loss: ${r} relation heads must divide both widths, teacher ${ht}·${dt} = ${ht * dt} and student ${hs}·${ds} = ${hs * ds}; set relationHeads to a common divisor`,
    );
  }
  const rows = klFromLogs(logRelation(regroup(teacher, r), o), logRelation(regroup(student, r), o)); // (B, R, T)
  return maskedMean(rows, o.mask ? reshape(keepOf(o.mask), [b, 1, t]) : undefined);
}

export function createValueRelation(c: ValueRelationConfig): DistillLoss {
  return {
    kind: 'valueRelation',
    params: new Map(),
    forward: (b: DistillBatch) =>
      overLayerPairs(
        'value-relation loss',
        c,
        need(
          b.student.values,
          'value-relation loss',
          'student.values',
          "pass the student's present[i].value per block (fromDecoder does)",
        ),
        need(
          b.teacher.values,
          'value-relation loss',
          'teacher.values',
          "pass the teacher's present[i].value per block; an API teacher cannot, so drop this loss",
        ),
        (s, t) => valueRelationKl(t, s, { relationHeads: c.relationHeads, causal: c.causal, mask: b.mask }),
      ),
  };
}
