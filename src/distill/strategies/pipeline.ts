// Every distillation strategy, one row each (the `satisfies` makes a missing row a compile error),
// and the runner that takes a config (one strategy, or a pipeline of steps) through them.
//
// A pipeline runs its steps in order over one DistillContext: preparing steps change the run
// (finetuneTeacher, initFromTeacher, offline, augment, onPolicy), training steps train the student
// (kd, hardLabels, online, mutual, bornAgain, deepToShallow). A config whose steps train nothing gets
// a `kd` step with default settings at the end, so `{kind: 'offline'}` alone labels a store and
// then distills from it; a preparing step after the last training step is refused (it would do nothing).
import { join } from 'node:path';
import { z } from 'zod';
import { configError, type ConfigError } from '../config/index.ts';
import { teacherAnswersRule } from './answers/strategy.ts';
import { augmentRule } from './augment/strategy.ts';
import type { DistillContext, StageInfo, StageReport, StudentSpec, TeacherEntry } from './context.ts';
import { deepToShallowRule } from './deep-to-shallow.ts';
import { bornAgainRule } from './born-again.ts';
import { doc } from './fields.ts';
import { finetuneTeacherRule } from './finetune-teacher.ts';
import { initFromTeacherRule } from './init-from-teacher.ts';
import { hardLabelsRule, kdRule } from './kd.ts';
import { offlineRule } from './offline.ts';
import { onPolicyRule } from './on-policy.ts';
import { mutualRule, onlineRule } from './online.ts';
import type { StrategyRule } from './rule.ts';

export type StrategyKind =
  | 'kd'
  | 'hardLabels'
  | 'offline'
  | 'online'
  | 'mutual'
  | 'bornAgain'
  | 'deepToShallow'
  | 'onPolicy'
  | 'augment'
  | 'finetuneTeacher'
  | 'initFromTeacher'
  | 'teacherAnswers'
  | 'pipeline';

/** The rows a pipeline's steps are made of (every strategy but the pipeline itself). */
export const stepRules = {
  kd: kdRule,
  hardLabels: hardLabelsRule,
  offline: offlineRule,
  online: onlineRule,
  mutual: mutualRule,
  bornAgain: bornAgainRule,
  deepToShallow: deepToShallowRule,
  onPolicy: onPolicyRule,
  augment: augmentRule,
  finetuneTeacher: finetuneTeacherRule,
  initFromTeacher: initFromTeacherRule,
  teacherAnswers: teacherAnswersRule,
  // biome-ignore lint/suspicious/noExplicitAny: a table of rules whose config types differ; each row is checked against its own schema
} satisfies Record<Exclude<StrategyKind, 'pipeline'>, StrategyRule<any>>;

type StepKind = keyof typeof stepRules;

export const stepSchema = z.discriminatedUnion('kind', [
  stepRules.kd.schema,
  stepRules.hardLabels.schema,
  stepRules.offline.schema,
  stepRules.online.schema,
  stepRules.mutual.schema,
  stepRules.bornAgain.schema,
  stepRules.deepToShallow.schema,
  stepRules.onPolicy.schema,
  stepRules.augment.schema,
  stepRules.finetuneTeacher.schema,
  stepRules.initFromTeacher.schema,
  stepRules.teacherAnswers.schema,
]);
export type StepConfig = z.output<typeof stepSchema>;

export const pipelineSchema = z
  .object({
    kind: z.literal('pipeline'),
    steps: doc(
      z.array(stepSchema).min(1),
      'The steps, in order: preparing steps (finetuneTeacher, initFromTeacher, teacherAnswers, offline, augment, onPolicy) before the training steps they prepare',
      [{ kind: 'offline', topK: 20 }, { kind: 'onPolicy', lambda: 0.5 }, { kind: 'kd' }],
    ),
  })
  .strict();

export const strategyRules = {
  ...stepRules,
  pipeline: {
    schema: pipelineSchema,
    cite: 'Strategies composed: each step prepares or trains, over one run',
    role: 'train',
    run: async () => {
      throw new Error('a pipeline runs through runDistill, not as a step of another pipeline');
    },
  } satisfies StrategyRule<typeof pipelineSchema>,
  // biome-ignore lint/suspicious/noExplicitAny: as above, with the pipeline row
} satisfies Record<StrategyKind, StrategyRule<any>>;

/** A distillation config: one strategy (kind and its settings) or a pipeline of them. */
export const distillConfigSchema = z.discriminatedUnion('kind', [...stepSchema.options, pipelineSchema]);
export type DistillConfig = z.output<typeof distillConfigSchema>;
export type DistillConfigInput = z.input<typeof distillConfigSchema>;

/** Validates a distillation config; errors name the field, what was expected, what came, and a fix. */
export function parseDistillConfig(
  value: unknown,
  file = 'distill config',
  pathPrefix: readonly PropertyKey[] = [],
): DistillConfig {
  // Each step is checked against its own row's schema, so an error inside a step names that row's fields.
  const kind = (value as { kind?: unknown } | null)?.kind;
  const steps = (value as { steps?: unknown } | null)?.steps;
  if (kind === 'pipeline') {
    if (!Array.isArray(steps)) {
      const r = pipelineSchema.safeParse(value, { reportInput: true });
      if (!r.success) throw configError(file, pipelineSchema, r.error, pathPrefix, value);
    }
    const { steps: _s, ...rest } = value as Record<string, unknown>;
    const head = pipelineSchema.omit({ steps: true }).safeParse(rest, { reportInput: true });
    if (!head.success) throw configError(file, pipelineSchema, head.error, pathPrefix, rest);
    return {
      kind: 'pipeline',
      steps: (steps as unknown[]).map((s, i) => parseStep(s, file, [...pathPrefix, 'steps', i])),
    };
  }
  if (typeof kind === 'string' && kind in stepRules) return parseStep(value, file, pathPrefix);
  const r = distillConfigSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw configError(file, distillConfigSchema, r.error, pathPrefix, value) satisfies ConfigError;
  return r.data;
}

function parseStep(value: unknown, file: string, path: readonly PropertyKey[]): StepConfig {
  const kind = (value as { kind?: unknown } | null)?.kind;
  const schema: z.ZodType =
    typeof kind === 'string' && kind in stepRules ? stepRules[kind as StepKind].schema : stepSchema;
  const r = schema.safeParse(value, { reportInput: true });
  if (!r.success) throw configError(file, schema as never, r.error, path, value);
  return r.data as StepConfig;
}

export interface DistillResult {
  /** One report per step run, in order. */
  reports: StageReport[];
  /** The trained student (its params are the final values). */
  student: StudentSpec;
  /** The run's teachers after the steps (fine-tuned, served from a store, ...). */
  teachers: TeacherEntry[];
}

async function runStep(ctx: DistillContext, step: StepConfig): Promise<StageReport> {
  const index = ++ctx.stageCount;
  const name = `${index}-${step.kind}`;
  const stage: StageInfo = { name, index, dir: join(ctx.settings.dir, name) };
  // biome-ignore lint/suspicious/noExplicitAny: step was parsed by this row's schema, so the row takes it
  const rule = stepRules[step.kind] as StrategyRule<any>;
  const report = await rule.run(ctx, step, stage);
  ctx.reports.push(report);
  return report;
}

/** Runs a strategy (or a pipeline) over the run; the context holds the trained student afterwards. */
/** Steps that train on task data (answer-only batches with their attention mask); the others read text windows. */
const TASK_DATA_STEPS = new Set<StepKind>(['kd', 'hardLabels', 'teacherAnswers', 'onPolicy', 'initFromTeacher']);

export async function runDistill(
  ctx: DistillContext,
  input: DistillConfigInput | DistillConfig,
): Promise<DistillResult> {
  const config = parseDistillConfig(input);
  const steps: StepConfig[] = config.kind === 'pipeline' ? config.steps : [config];
  const trains = steps.map((s) => stepRules[s.kind].role === 'train');
  const last = trains.lastIndexOf(true);
  if (last >= 0 && last < steps.length - 1) {
    const idle = steps
      .slice(last + 1)
      .map((s) => s.kind)
      .join(', ');
    throw new Error(
      `distill pipeline: ${idle} come${steps.length - last - 1 > 1 ? '' : 's'} after the last training step (${steps[last]!.kind}) and would change nothing; move ${steps.length - last - 1 > 1 ? 'them' : 'it'} before a training step, or add {kind: 'kd'} after`,
    );
  }
  if (ctx.data.task) {
    const unfit = steps.filter((s) => !TASK_DATA_STEPS.has(s.kind)).map((s) => s.kind);
    if (unfit.length > 0) {
      throw new Error(
        `distill: ${[...new Set(unfit)].join(', ')} work${unfit.length > 1 ? '' : 's'} on text windows, not yet on task data (prompts and answers); use ${[...TASK_DATA_STEPS].join(', ')} with a .jsonl dataset`,
      );
    }
  }
  for (const step of steps) await runStep(ctx, step);
  if (last < 0) await runStep(ctx, stepSchema.parse({ kind: 'kd' }));
  return { reports: ctx.reports, student: ctx.student, teachers: ctx.teachers };
}

type ConfigOf<K extends StepKind> = Omit<z.input<(typeof stepRules)[K]['schema']>, 'kind'>;

/** Each strategy as a function: `strategies.offline(ctx, { topK: 8 })` runs it (plus a default kd step if it trains nothing). */
export const strategies = Object.fromEntries(
  (Object.keys(stepRules) as StepKind[]).map((kind) => [
    kind,
    (ctx: DistillContext, config: object = {}) => runDistill(ctx, { ...config, kind } as DistillConfigInput),
  ]),
) as { [K in StepKind]: (ctx: DistillContext, config?: ConfigOf<K>) => Promise<DistillResult> };
