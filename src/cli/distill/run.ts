// retort distill CONFIG: a run config whose `distill` section names the teachers and the strategy
// (src/distill/strategies: kd, offline, online, selfDistill-style born-again, onPolicy, augment,
// finetuneTeacher, initFromTeacher, or a pipeline of them). The student is the config's model, the
// data its data; each strategy step trains in its own folder under checkpoint.dir, and the final
// student is saved as a Hugging Face folder in {checkpoint.dir}/final.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  configIssue,
  isTaskDataset,
  loadRunConfig,
  modelFromConfig,
  taskDataFromConfig,
} from '../../distill/config/index.ts';
import { Progress } from '../../distill/progress/index.ts';
import {
  createDistillContext,
  distillSectionSchema,
  resolveTeachers,
  runDistill,
  settingsFromRunConfig,
} from '../../distill/strategies/index.ts';
import { familyLabel, freshModelLike, saveHfModel } from '../../models/index.ts';
import { loadHfTokenizer } from '../../models/tokenizers/hf-tokenizer.ts';
import { tokenCorpus } from '../../data/corpus.ts';
import { labelledCorpus } from '../../data/labelled-corpus.ts';
import { classifierPlan, runClassifier } from '../train/classify.ts';

import type { DistillValues } from './schema.ts';
import type { CommandContext } from '../command.ts';

export async function run({ values, positionals, io, json }: CommandContext<DistillValues>) {
  const file = positionals[0]!;
  const name = file.split('/').at(-1)!;
  const c = loadRunConfig(file, { distill: distillSectionSchema });
  if (!c.distill)
    throw configIssue(
      name,
      'distill',
      'a distill section (teachers and strategy)',
      'nothing',
      'add distill: {teachers: [{name: big, source: {kind: retort, hfDir: ...}}], strategy: {kind: kd}}, or use retort train to train on the data alone',
    );
  if (values.steps !== undefined) c.steps = values.steps;
  if (values.seed !== undefined) c.seed = values.seed;
  if (values.dir !== undefined) c.checkpoint.dir = resolve(values.dir);
  const baseDir = dirname(resolve(file));
  // Paths in a run config start at the config file's folder; the strategy's store folders too.
  const strategy = c.distill.strategy;
  for (const step of strategy.kind === 'pipeline' ? strategy.steps : [strategy]) {
    if ((step.kind === 'offline' || step.kind === 'teacherAnswers') && step.dir) step.dir = resolve(baseDir, step.dir);
  }
  // The student must read the teacher's token ids: a tokenizer learned here would number them differently.
  c.distill.teachers.forEach((t, i) => {
    const src = t.source as { kind: string; hfDir?: string };
    if (src.kind !== 'retort' || !src.hfDir) return;
    const dir = resolve(baseDir, src.hfDir);
    if (
      existsSync(join(dir, 'tokenizer.json')) &&
      (c.data.tokenizer.kind !== 'hf' || resolve(c.data.tokenizer.path) !== dir)
    ) {
      const got =
        c.data.tokenizer.kind === 'hf' ? JSON.stringify(c.data.tokenizer) : `{kind: ${c.data.tokenizer.kind}}`;
      throw configIssue(
        name,
        'data.tokenizer',
        `the tokenizer of teacher '${t.name}' (distill.teachers.${i})`,
        got,
        `set data.tokenizer to {kind: hf, path: ${src.hfDir}}: the student must read the teacher's token ids`,
      );
    }
  });
  const log = (line: string) => io.err(line);
  const tokenizer = c.data.tokenizer.kind === 'hf' ? loadHfTokenizer(c.data.tokenizer.path) : undefined;
  if (c.task === 'classify') {
    const plan = classifierPlan(c, name, baseDir, tokenizer);
    const corpus = labelledCorpus(c.data, { tokenizer, log });
    // As the LM steps do, a rerun resumes the step from its folder's checkpoints.
    return runClassifier({
      c,
      file: name,
      io,
      json,
      resume: true,
      corpus,
      plan: { ...plan, dir: join(c.checkpoint.dir, plan.stage) },
    });
  }
  // With a known tokenizer the teachers are loaded and checked before the corpus is read: a teacher
  // that cannot load costs no tokenizing. A tokenizer learned from the corpus comes first otherwise.
  let teachers = tokenizer ? await resolveTeachers(c.distill.teachers, { tokenizer, baseDir }) : undefined;
  const task = isTaskDataset(c.data) ? taskDataFromConfig(c.data, { tokenizer, log }) : undefined;
  const corpus = task
    ? { tokenizer: task.tokenizer, train: new Int32Array(0), validation: new Int32Array(0) }
    : tokenCorpus(c.data, { tokenizer, log });
  const { model, params } = modelFromConfig(c, corpus.tokenizer, name);
  teachers ??= await resolveTeachers(c.distill.teachers, { tokenizer: corpus.tokenizer, baseDir });
  log(
    `student: ${familyLabel(model)}, ${model.paramCount().toLocaleString('en')} parameters; teachers: ${teachers.map((t) => `${t.name} (${t.teacher.kind}, ${t.mode})`).join(', ') || 'none'}; strategy: ${c.distill.strategy.kind}`,
  );
  const ctx = await createDistillContext({
    student: { model, rebuild: () => freshModelLike(model), params },
    teachers,
    data: {
      train: corpus.train,
      validation: corpus.validation.length > c.data.seqLen ? corpus.validation : undefined,
      tokenizer: corpus.tokenizer,
      task: task?.task,
    },
    settings: { ...settingsFromRunConfig(c), progress: new Progress() },
    hooks: { log },
  });
  const r = await runDistill(ctx, c.distill.strategy);
  const final = join(c.checkpoint.dir, 'final');
  saveHfModel(final, r.student.model as never, r.student.params!, { tokenizer: corpus.tokenizer });
  const stages = r.reports.map((s) => ({
    stage: s.stage,
    kind: s.kind,
    dir: s.dir ?? null,
    steps: s.summary?.step ?? null,
    perplexity: s.eval?.perplexity ?? null,
    accuracy: s.eval?.accuracy ?? null,
  }));
  if (!json) {
    for (const s of stages)
      io.out(
        `${s.stage}: ${s.steps !== null ? `${s.steps} steps` : 'done'}${s.perplexity !== null ? `, held-out perplexity ${s.perplexity.toFixed(2)}` : ''}${s.dir ? ` (${s.dir})` : ''}`,
      );
    io.out(`student saved in ${final}`);
    const t = c.distill.teachers.find((x) => (x.source as { kind: string }).kind === 'retort');
    if (t)
      io.out(
        `next: retort eval --teacher ${resolve(baseDir, (t.source as { hfDir: string }).hfDir)} --student ${final}`,
      );
  }
  return { dir: c.checkpoint.dir, model: final, stages };
}
