// Online distillation: teacher and student train together in one graph.
//  - online: the teacher keeps learning the task (its own cross-entropy) while the student learns
//    from it. The student's KD target is stopGradient(teacher logits), so the KD term does not pull
//    the teacher toward the student, unless `pullTeacher` is set (then both terms shape the teacher,
//    as in codistillation, Anil et al. 2018).
//  - mutual: Deep Mutual Learning (Zhang et al. 2018), two peers from scratch, each minimizing
//    CE + KL(stopGradient(p_other) ‖ p_self). The paper alternates the peers' updates; here both
//    update in the same step from the same batch, the usual one-graph form.
import { z } from 'zod';
import { crossEntropy, input, stopGradient, withParamPrefix } from '../../graph/index.ts';
import type { DecoderModel } from '../../models/types.ts';
import { ParamStore } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import { teacherPrefix } from '../compose/index.ts';
import { combineLosses, logitKdLoss, logitKdSchema, lossWeightInputs } from '../losses/index.ts';
import type { DistillContext, StageInfo, StageReport } from './context.ts';
import { localTeacher } from './context.ts';
import { doc, stepsField, teacherName } from './fields.ts';
import { studentStart } from './kd.ts';
import { strategyRule } from './rule.ts';
import { copyParams, trainJob, type JobObjective } from './train.ts';

const kdLossField = () =>
  doc(
    logitKdSchema.default({
      kind: 'logits',
      alpha: 0.5,
      temperature: 1,
      divergence: 'forwardKl',
      beta: 0.5,
      skew: 0.1,
      ignoreIndex: -100,
    }),
    "The student's logit-KD loss (alpha, temperature, divergence)",
    { kind: 'logits', alpha: 0.5, temperature: 2 },
  );

export const onlineSchema = z
  .object({
    kind: z.literal('online'),
    teacher: doc(
      teacherName().optional(),
      'The teacher that keeps training (a Retort model); default the first one',
      'big',
    ),
    kd: kdLossField(),
    teacherWeight: doc(z.number().nonnegative().default(1), "Weight of the teacher's own cross-entropy", 1),
    pullTeacher: doc(
      z.boolean().default(false),
      "Let the KD term's gradient reach the teacher too (codistillation); default the teacher only learns the task",
      false,
    ),
    steps: stepsField(),
  })
  .strict();

export const mutualSchema = z
  .object({
    kind: z.literal('mutual'),
    temperature: doc(z.number().positive().default(1), 'Softmax temperature of the mutual KL terms', 1),
    klWeight: doc(
      z.number().nonnegative().default(1),
      'Weight of each peer’s KL to the other (its CE has weight 1)',
      1,
    ),
    peerSeed: doc(
      z.number().int().nonnegative().optional(),
      "Seeds the second peer's initialization; default the run's seed + 1",
      2,
    ),
    steps: stepsField(),
  })
  .strict();

/**
 * Throws unless `built` (declared under `prefix`) has the student's parameters, by name and shape. A
 * rebuild() of another architecture (a GPT-2 from a Llama's dimensions) would otherwise train a
 * different model than the student, or fail far from the cause.
 */
export function checkRebuilt(strategy: string, student: DecoderModel, built: DecoderModel, prefix = ''): void {
  const shape = (t: { shape: readonly number[] }) => `[${t.shape.join(', ')}]`;
  const got = new Map([...built.params].map(([k, t]) => [k.startsWith(prefix) ? k.slice(prefix.length) : k, t]));
  const missing = [...student.params.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !student.params.has(k));
  const reshaped = [...student.params]
    .filter(([k, t]) => got.has(k) && shape(got.get(k)!) !== shape(t))
    .map(([k, t]) => `${k} ${shape(t)} vs ${shape(got.get(k)!)}`);
  if (missing.length + extra.length + reshaped.length === 0) return;
  const first = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? `, ... (${xs.length} in all)` : '');
  const parts = [
    missing.length ? `lacks the student's ${first(missing)}` : '',
    extra.length ? `has ${first(extra)}, which the student does not` : '',
    reshaped.length ? `has other shapes: ${first(reshaped)}` : '',
  ].filter(Boolean);
  throw new Error(
    `${strategy}: the student's rebuild() made a model that ${parts.join('; ')}; ` +
      `rebuild must make a fresh model of the student's own family and config (e.g. rebuild: () => freshModelLike(model), from src/models)`,
  );
}

const ids = (b: number, t: number) => ({
  ids: input('input_ids', [b, t], 'int64'),
  labels: input('labels', [b, t], 'int64'),
}); // (B, T) each

export async function runOnline(
  ctx: DistillContext,
  c: z.output<typeof onlineSchema>,
  stage: StageInfo,
): Promise<StageReport> {
  const entry = localTeacher(ctx, c.teacher, 'online');
  if (!entry.rebuild)
    throw new Error(
      `online: teacher '${entry.name}' has no rebuild(); the teacher trains in the graph, so give its slot rebuild: () => new Model(config)`,
    );
  const { batch, seq } = ctx.settings;
  const prefix = teacherPrefix(entry.name);
  const params = studentStart(ctx);
  for (const [k, v] of copyParams(entry.teacher.local.params, entry.teacher.local.model.params.keys()).values)
    params.set(prefix + k, v);

  const objective = (mode: { train: boolean }): JobObjective => {
    const x = ids(batch, seq);
    const t = withParamPrefix(prefix, () => entry.rebuild!());
    const tOut = t.forward(x.ids, { train: mode.train });
    const sOut = ctx.student.model.forward(x.ids, { train: mode.train });
    const teacherCe = crossEntropy(tOut.logits, x.labels);
    const kd = logitKdLoss(
      { student: sOut.logits, teacher: c.pullTeacher ? tOut.logits : stopGradient(tOut.logits), labels: x.labels },
      c.kd,
    );
    const weighted = { 'teacher.ce': teacherCe, 'student.kd': kd.loss };
    const { total } = combineLosses(weighted, lossWeightInputs(Object.keys(weighted)));
    const parts = Object.fromEntries(Object.entries(kd.parts).map(([k, v]) => [`student.kd/${k}`, v]));
    return { total, terms: { ...weighted, ...parts }, predictions: { logits: sOut.logits, labels: x.labels } };
  };
  const r = await trainJob(ctx, {
    stage,
    objective,
    student: ctx.student.model,
    params,
    steps: c.steps,
    weight: (n) => (n === 'teacher.ce' ? c.teacherWeight : 1),
    config: {
      kind: 'online',
      teacher: entry.teacher.fingerprint,
      kd: c.kd,
      teacherWeight: c.teacherWeight,
      pullTeacher: c.pullTeacher,
    },
  });
  ctx.student.params = copyParams(r.trainer.params, ctx.student.model.params.keys());
  // The teacher goes on as it is now: later steps distill from the trained teacher.
  const local = entry.teacher.local;
  const teacherParams = copyParams(
    r.trainer.params,
    [...local.model.params.keys()].map((k) => prefix + k),
    (n) => n.slice(prefix.length),
  );
  const updated = new LocalTeacher(entry.name, local.model, teacherParams, entry.teacher.tokenizer);
  ctx.teachers[ctx.teachers.indexOf(entry)] = { ...entry, teacher: updated };
  return {
    stage: stage.name,
    kind: 'online',
    dir: stage.dir,
    summary: r.summary,
    eval: r.eval,
    details: {
      teacher: entry.name,
      fingerprintBefore: entry.teacher.fingerprint,
      fingerprintAfter: updated.fingerprint,
    },
  };
}

export const PEER_PREFIX = 'peer.';

export async function runMutual(
  ctx: DistillContext,
  c: z.output<typeof mutualSchema>,
  stage: StageInfo,
): Promise<StageReport> {
  const { batch, seq } = ctx.settings;
  const params = studentStart(ctx);
  const peerSeed = c.peerSeed ?? ctx.settings.seed + 1;
  const kl = {
    kind: 'logits' as const,
    alpha: 1,
    temperature: c.temperature,
    divergence: 'forwardKl' as const,
    beta: 0.5,
    skew: 0.1,
    ignoreIndex: -100,
  };

  const objective = (mode: { train: boolean }): JobObjective => {
    const x = ids(batch, seq);
    const b = withParamPrefix(PEER_PREFIX, () => ctx.student.rebuild());
    const la = ctx.student.model.forward(x.ids, { train: mode.train }).logits; // (B, T, V)
    const lb = b.forward(x.ids, { train: mode.train }).logits;
    // Each peer's KL reads the other's distribution as a constant target.
    const terms = {
      'a.ce': crossEntropy(la, x.labels),
      'a.kl': logitKdLoss({ student: la, teacher: stopGradient(lb), labels: x.labels }, kl).loss,
      'b.ce': crossEntropy(lb, x.labels),
      'b.kl': logitKdLoss({ student: lb, teacher: stopGradient(la), labels: x.labels }, kl).loss,
    };
    const { total } = combineLosses(terms, lossWeightInputs(Object.keys(terms)));
    return { total, terms, predictions: { logits: la, labels: x.labels } };
  };
  // The second peer starts from its own seed: its parameters are initialized here, the first peer's by the trainer.
  const probe = withParamPrefix(PEER_PREFIX, () => ctx.student.rebuild());
  checkRebuilt('mutual', ctx.student.model, probe, PEER_PREFIX);
  for (const [k, v] of ParamStore.init(probe.params.values(), peerSeed).values) params.set(k, v);
  const r = await trainJob(ctx, {
    stage,
    objective,
    student: ctx.student.model,
    params,
    steps: c.steps,
    weight: (n) => (n.endsWith('.kl') ? c.klWeight : 1),
    config: { kind: 'mutual', temperature: c.temperature, klWeight: c.klWeight, peerSeed },
  });
  ctx.student.params = copyParams(r.trainer.params, ctx.student.model.params.keys());
  return { stage: stage.name, kind: 'mutual', dir: stage.dir, summary: r.summary, eval: r.eval, details: { peerSeed } };
}

export const onlineRule = strategyRule({
  schema: onlineSchema,
  cite: 'Online distillation: teacher trained on the task alongside the student (codistillation, Anil et al. 2018; ONE, Lan et al. 2018); KD target through stopGradient',
  role: 'train',
  run: runOnline,
});

export const mutualRule = strategyRule({
  schema: mutualSchema,
  cite: 'Deep Mutual Learning (Zhang et al. 2018): peers each minimize CE + KL(p_other ‖ p_self)',
  role: 'train',
  run: runMutual,
});
