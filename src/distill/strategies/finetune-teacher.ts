// Fine-tune the teacher on the task data first (next-token cross-entropy), save it as a Hugging Face
// folder, and distill from the fine-tuned teacher in the steps that follow. A rerun finds the saved
// teacher (its marker names the teacher it started from and the settings) and skips the training;
// an interrupted fine-tuning resumes from its own checkpoints.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { atomicWriteFile } from '../../io/atomic-write.ts';
import { loadHfModel, saveHfModel } from '../../models/hf/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import { canonicalJson } from '../checkpoint/index.ts';
import type { DistillContext, StageInfo, StageReport } from './context.ts';
import { localTeacher } from './context.ts';
import { doc, stepsField, teacherName } from './fields.ts';
import { hardLabelObjective } from './kd.ts';
import { strategyRule } from './rule.ts';
import { copyParams, trainJob } from './train.ts';

export const finetuneTeacherSchema = z
  .object({
    kind: z.literal('finetuneTeacher'),
    teacher: doc(teacherName().optional(), 'The teacher to fine-tune (a Retort model); default the first one', 'big'),
    steps: stepsField(),
    lr: doc(z.number().positive().optional(), "Peak learning rate of the fine-tuning; default the run's", 1e-4),
    saveDir: doc(
      z.string().min(1).optional(),
      'Where the fine-tuned teacher is saved (config.json, model.safetensors); default {run dir}/teacher-{name}',
      'runs/teacher-ft',
    ),
  })
  .strict();

export const FINETUNE_MARKER = 'retort-finetune.json';

export async function runFinetuneTeacher(
  ctx: DistillContext,
  c: z.output<typeof finetuneTeacherSchema>,
  stage: StageInfo,
): Promise<StageReport> {
  const entry = localTeacher(ctx, c.teacher, 'finetuneTeacher');
  const { model, params } = entry.teacher.local;
  const saveDir = c.saveDir ?? join(ctx.settings.dir, `teacher-${entry.name}`);
  const steps = c.steps ?? ctx.settings.steps;
  const schedule = { ...ctx.settings.schedule, ...(c.lr !== undefined && { lr: c.lr }) };
  const marker = {
    from: entry.teacher.fingerprint,
    steps,
    schedule,
    optimizer: ctx.settings.optimizer,
    seed: ctx.settings.seed,
  };
  const markerPath = join(saveDir, FINETUNE_MARKER);

  let tuned;
  let report: Partial<StageReport> = {};
  if (
    existsSync(markerPath) &&
    canonicalJson(JSON.parse(readFileSync(markerPath, 'utf8'))) === canonicalJson(marker as never)
  ) {
    tuned = loadHfModel(saveDir).params;
    ctx.hooks.log?.(`finetuneTeacher: '${entry.name}' was fine-tuned before; using ${saveDir}`);
  } else {
    const { batch, seq } = ctx.settings;
    const r = await trainJob(ctx, {
      stage,
      objective: hardLabelObjective(model, batch, seq),
      student: model,
      params: copyParams(params, model.params.keys()),
      steps,
      schedule,
      transforms: [],
      config: { kind: 'finetuneTeacher', from: entry.teacher.fingerprint },
    });
    tuned = copyParams(r.trainer.params, model.params.keys());
    saveHfModel(saveDir, model, tuned, { tokenizer: ctx.data.tokenizer });
    atomicWriteFile(markerPath, `${JSON.stringify(marker, null, 2)}\n`);
    report = { dir: stage.dir, summary: r.summary, eval: r.eval };
  }
  const updated = new LocalTeacher(entry.name, model, tuned, entry.teacher.tokenizer);
  ctx.teachers[ctx.teachers.indexOf(entry)] = { ...entry, teacher: updated };
  return {
    stage: stage.name,
    kind: 'finetuneTeacher',
    ...report,
    details: {
      teacher: entry.name,
      saveDir,
      fingerprintBefore: entry.teacher.fingerprint,
      fingerprintAfter: updated.fingerprint,
    },
  };
}

export const finetuneTeacherRule = strategyRule({
  schema: finetuneTeacherSchema,
  cite: 'Teacher fine-tuned on the task before distillation (as in task-specific distillation, e.g. TinyBERT, Jiao et al. 2020)',
  role: 'prepare',
  run: runFinetuneTeacher,
});
