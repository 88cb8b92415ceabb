// Knowledge distillation from one or more teachers (Hinton et al. 2015), and the hard-label
// baseline. Mostly an adapter: config → compose's buildDistillObjective → the Trainer. The teachers
// are whatever the run holds: Retort models traced in-graph, ONNX/HTTP teachers fed from score(),
// or an offline store (the offline step puts it there).
import { z } from 'zod';
import type { DecoderModel } from '../../models/types.ts';
import { ParamStore } from '../../runtime/index.ts';
import { batchInputs, buildDistillObjective, type BatchLayout, type LossTerm } from '../compose/index.ts';
import { combineLosses, type LossChunkSetting, lmCrossEntropy, lossWeightInputs, scheduleAt } from '../losses/index.ts';
import type { DistillContext, StageInfo, StageReport, TeacherEntry } from './context.ts';
import { pickTeachers } from './context.ts';
import { doc, multiTeacherSchema, stepsField, teacherName, termSchema, type TermConfig } from './fields.ts';
import { strategyRule } from './rule.ts';
import { copyParams, trainJob, type JobObjective } from './train.ts';

export const kdSchema = z
  .object({
    kind: z.literal('kd'),
    teachers: doc(z.array(teacherName()).min(1).optional(), "Which of the run's teachers to learn from; default all", [
      'big',
    ]),
    terms: doc(
      z.array(termSchema).min(1).optional(),
      'The loss terms; default one logit-KD term (top-k after an offline step, JSD after onPolicy)',
      [{ name: 'kd', loss: { kind: 'logits', alpha: 0.5 } }],
    ),
    multiTeacher: doc(multiTeacherSchema.optional(), 'How several teachers combine; default one term per teacher', {
      mode: 'weighted',
    }),
    steps: stepsField(),
  })
  .strict();
export type KdConfig = z.output<typeof kdSchema>;

export const hardLabelsSchema = z
  .object({
    kind: z.literal('hardLabels'),
    steps: stepsField(),
  })
  .strict();

/** The weight of a (possibly per-teacher, `{term}.{teacher}`) term at a step. */
export function termWeight(terms: readonly TermConfig[], name: string, step: number): number {
  const t = terms.find((x) => x.name === name || name.startsWith(`${x.name}.`));
  return t ? scheduleAt(t.weight, step) : 1;
}

/** Starting values for a job: copies of the student's current values (a trainer writes into the arrays it is given). */
export function studentStart(ctx: DistillContext, model: DecoderModel = ctx.student.model): ParamStore {
  const p = ctx.student.params;
  return p
    ? copyParams(
        p,
        [...model.params.keys()].filter((n) => p.values.has(n)),
      )
    : new ParamStore();
}

/** The KD objective over compose: student + teachers + terms, traced for the Trainer. */
export function kdTrainObjective(
  student: DecoderModel,
  teachers: readonly TeacherEntry[],
  terms: readonly TermConfig[],
  o: {
    batch: number;
    seq: number;
    params: ParamStore;
    multiTeacher?: KdConfig['multiTeacher'];
    layout?: BatchLayout;
    lossChunk?: LossChunkSetting;
  },
): { objective: (mode: { train: boolean }) => JobObjective; trainable: (name: string) => boolean } {
  const lossTerms: LossTerm[] = terms.map((t) => ({ name: t.name, config: t.loss, teacher: t.teacher, topK: t.topK }));
  let frozen = (_: string) => false;
  const objective = (mode: { train: boolean }): JobObjective => {
    const obj = buildDistillObjective({
      student,
      teachers,
      terms: lossTerms,
      multiTeacher: o.multiTeacher,
      batch: o.batch,
      seq: o.seq,
      train: mode.train,
      layout: o.layout,
      lossChunk: o.lossChunk,
    });
    obj.attachTeachers(o.params);
    frozen = (n) => !obj.trainable(n);
    const fed = teachers.some((t) => t.mode === 'fed');
    return {
      total: obj.total,
      terms: obj.terms,
      predictions: { logits: obj.student.logits!, labels: obj.labels },
      feeds: fed ? (ids) => obj.teacherFeeds(ids) : undefined,
    };
  };
  return { objective, trainable: (n) => !frozen(n) };
}

/**
 * The default term: the run's KD defaults (logits; top-k after an offline step; JSD after onPolicy).
 * Teachers that give only top-k log-probs (an HTTP API) get a top-k term instead of dense logits.
 */
export function defaultTerms(ctx: DistillContext, teachers: readonly TeacherEntry[] = ctx.teachers): TermConfig[] {
  const loss = ctx.kdDefaults.loss as { kind: string };
  const sparseOnly =
    teachers.length > 0 &&
    teachers.every((t) => t.mode === 'fed' && !t.teacher.capabilities.logits && t.teacher.capabilities.topK);
  if (loss.kind === 'logits' && sparseOnly) {
    const { kind: _k, ...rest } = loss;
    return [termSchema.parse({ name: 'kd', loss: { ...rest, kind: 'topk' }, topK: ctx.kdDefaults.topK })];
  }
  return [termSchema.parse({ name: 'kd', loss: ctx.kdDefaults.loss, topK: ctx.kdDefaults.topK })];
}

export async function runKd(ctx: DistillContext, c: KdConfig, stage: StageInfo): Promise<StageReport> {
  const teachers = pickTeachers(ctx, c.teachers, 'kd');
  if (teachers.length === 0)
    throw new Error("kd: the run has no teachers; add one, or use {kind: 'hardLabels'} to train on the data alone");
  const terms = c.terms ?? defaultTerms(ctx, teachers);
  const { batch, seq } = ctx.settings;
  const params = studentStart(ctx);
  const { objective, trainable } = kdTrainObjective(ctx.student.model, teachers, terms, {
    batch,
    seq,
    params,
    multiTeacher: c.multiTeacher,
    layout: layoutOf(ctx),
    lossChunk: ctx.settings.lossChunk,
  });
  const r = await trainJob(ctx, {
    stage,
    objective,
    student: ctx.student.model,
    params,
    trainable,
    steps: c.steps,
    weight: (n, s) => termWeight(terms, n, s),
    config: {
      kind: 'kd',
      teachers: teachers.map((t) => [t.name, t.mode, t.teacher.fingerprint]),
      terms,
      multiTeacher: c.multiTeacher ?? null,
    },
  });
  ctx.student.params = copyParams(r.trainer.params, ctx.student.model.params.keys());
  return {
    stage: stage.name,
    kind: 'kd',
    dir: stage.dir,
    summary: r.summary,
    eval: r.eval,
    details: { teachers: teachers.map((t) => t.name), terms: terms.map((t) => t.name) },
  };
}

/** The batch layout of the run's data: task batches feed attention masks (and packing inputs); text windows do not. */
export function layoutOf(ctx: DistillContext): BatchLayout | undefined {
  return ctx.data.task ? { mask: true, packed: ctx.data.task.packed } : undefined;
}

/** Cross-entropy on the data's next tokens (task data: the answer tokens): the student's own objective, without a teacher. */
export function hardLabelObjective(
  student: DecoderModel,
  batch: number,
  seq: number,
  layout?: BatchLayout,
  lossChunk?: LossChunkSetting,
) {
  return (mode: { train: boolean }): JobObjective => {
    const { ids, labels, forward } = batchInputs(batch, seq, layout); // (B, T) each
    const out = student.forward(ids, { ...forward, train: mode.train });
    const ce = lmCrossEntropy(out, labels, { setting: lossChunk, grads: mode.train });
    const { total } = combineLosses({ ce }, lossWeightInputs(['ce']));
    return { total, terms: { ce }, predictions: { logits: out.logits, labels } };
  };
}

export async function runHardLabels(
  ctx: DistillContext,
  c: z.output<typeof hardLabelsSchema>,
  stage: StageInfo,
): Promise<StageReport> {
  const { batch, seq } = ctx.settings;
  const r = await trainJob(ctx, {
    stage,
    objective: hardLabelObjective(ctx.student.model, batch, seq, layoutOf(ctx), ctx.settings.lossChunk),
    student: ctx.student.model,
    params: studentStart(ctx),
    steps: c.steps,
    config: { kind: 'hardLabels' },
  });
  ctx.student.params = copyParams(r.trainer.params, ctx.student.model.params.keys());
  return { stage: stage.name, kind: 'hardLabels', dir: stage.dir, summary: r.summary, eval: r.eval };
}

export const kdRule = strategyRule({
  schema: kdSchema,
  cite: 'Hinton et al. 2015 (soft targets at temperature T); multi-teacher mixing; hidden (FitNets/TinyBERT), attention and value-relation (MiniLM) terms',
  role: 'train',
  run: runKd,
});

export const hardLabelsRule = strategyRule({
  schema: hardLabelsSchema,
  cite: 'The baseline: next-token cross-entropy on the data alone (alpha 0, no teacher)',
  role: 'train',
  run: runHardLabels,
});
