// Every distillation loss, one row each: its config schema, the paper it implements, what the
// batch must carry, and how to build it. Adding a loss adds a row here (the `satisfies` makes a
// missing row a compile error) and its own file.
import { z } from 'zod';
import { attentionLossSchema, createAttentionLoss } from './attention.ts';
import { HiddenStateLoss, hiddenLossSchema } from './hidden.ts';
import { createLogitKd, logitKdSchema } from './logit-kd.ts';
import { createTopkKd, topkKdSchema } from './topk.ts';
import type { DistillLoss, LossDims, LossKind } from './types.ts';
import { createValueRelation, valueRelationSchema } from './value-relation.ts';

export interface LossRule<S extends z.ZodObject = z.ZodObject> {
  /** The config, `kind` included. */
  readonly schema: S;
  /** Paper and equation. */
  readonly cite: string;
  /** The DistillBatch fields it reads. */
  readonly needs: readonly string[];
  create(config: z.output<S>, dims?: LossDims): DistillLoss;
}

const rule = <S extends z.ZodObject>(r: LossRule<S>): LossRule<S> => r;

export const lossRules = {
  logits: rule({
    schema: logitKdSchema,
    cite: 'Hinton et al. 2015: α·T²·D(p_t^T ‖ p_s^T) + (1−α)·CE; D from GKD (JSD_β), MiniLLM (reverse KL), DistiLLM (skew KL)',
    needs: ['student.logits', 'teacher.logits', 'labels (when alpha < 1)', 'mask (optional)'],
    create: (c) => createLogitKd(c),
  }),
  topk: rule({
    schema: topkKdSchema,
    cite: 'Hinton et al. 2015 over k + 1 buckets (top-k ids and the rest) of sparse teacher targets; sampled targets as in Sparse Logit Sampling (Anshumann et al. 2025)',
    needs: ['student.logits', 'teacher.topk', 'labels (when alpha < 1)', 'mask (optional)'],
    create: (c) => createTopkKd(c),
  }),
  hidden: rule({
    schema: hiddenLossSchema,
    cite: 'FitNets (Romero et al. 2015) / TinyBERT (Jiao et al. 2020): MSE(H_s·W_h, H_t); or 1 − cos',
    needs: ['student.hidden', 'teacher.hidden', 'mask (optional)'],
    create: (c, dims) => {
      if (!dims)
        throw new Error(
          "loss 'hidden' owns projections sized by the models: pass dims { student: { layers, hidden }, teacher: { layers, hidden } }",
        );
      return new HiddenStateLoss(c, dims);
    },
  }),
  attention: rule({
    schema: attentionLossSchema,
    cite: 'MiniLM (Wang et al. 2020): self-attention distribution transfer, KL(A_t ‖ A_s)',
    needs: ['student.attentions', 'teacher.attentions', 'mask (optional)'],
    create: (c) => createAttentionLoss(c),
  }),
  valueRelation: rule({
    schema: valueRelationSchema,
    cite: 'MiniLM (Wang et al. 2020) value relation KL(softmax(V_t·V_tᵀ/√d) ‖ softmax(V_s·V_sᵀ/√d)); MiniLM-v2 relation heads',
    needs: ['student.values', 'teacher.values', 'mask (optional)'],
    create: (c) => createValueRelation(c),
  }),
  // biome-ignore lint/suspicious/noExplicitAny: a table of rules whose config types differ; each row is checked against its own schema
} satisfies Record<LossKind, LossRule<any>>;

/** Any one loss's config, told apart by `kind`. */
export const distillLossSchema = z.discriminatedUnion('kind', [
  lossRules.logits.schema,
  lossRules.topk.schema,
  lossRules.hidden.schema,
  lossRules.attention.schema,
  lossRules.valueRelation.schema,
]);
export type DistillLossConfig = z.output<typeof distillLossSchema>;
export type DistillLossConfigInput = z.input<typeof distillLossSchema>;

/** Validates a loss config and builds the loss its row describes. */
export function createLoss(config: DistillLossConfigInput, dims?: LossDims): DistillLoss {
  const parsed = distillLossSchema.safeParse(config);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`distillation loss config: ${issues} (kinds: ${Object.keys(lossRules).join(', ')})`);
  }
  const c = parsed.data;
  // biome-ignore lint/suspicious/noExplicitAny: c was parsed by this row's schema, so the row takes it
  const r = lossRules[c.kind] as LossRule<any>;
  return r.create(c, dims);
}
