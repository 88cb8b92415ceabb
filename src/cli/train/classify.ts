// `task: classify` run configs: `retort train` trains a sequence classifier on the labelled texts,
// `retort distill` distills one from classifier teachers (strategy kd: logit KD on the class
// logits with the hard labels mixed by alpha, one term per teacher; or hardLabels, the baseline).
// An augment step before kd mixes in training texts perturbed and labelled by a teacher.
// Both save a Hugging Face folder ({checkpoint.dir}/final) that retort eval, export and web read.
import { join, resolve } from 'node:path';
import {
  classificationEval,
  classificationSource,
  classifierObjective,
  type ClassifierTeacher,
  type ClassifierTerm,
} from '../../distill/classify/index.ts';
import { configIssue, optimizerOf, scheduleOf, type LoadedRunConfig } from '../../distill/config/index.ts';
import { Progress } from '../../distill/progress/index.ts';
import {
  classifierSource,
  classifierTeacher,
  labelWithClassifier,
  type AugmentConfig,
  type DistillSection,
} from '../../distill/strategies/index.ts';
import { Trainer, type BalanceOptions, type DataSource } from '../../distill/trainer/index.ts';
import { loadHfModel, saveHfModel, SequenceClassifier } from '../../models/index.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import { defaultExecutor, ParamStore } from '../../runtime/index.ts';
import { fingerprintWeights } from '../../teachers/index.ts';
import type { Io } from '../command.ts';
import type { LabelledCorpus } from '../../data/labelled-corpus.ts';

/** The classifier the config describes: fresh (the body's config under a pooled head) or loaded (hfDir). */
export function classifierFromConfig(
  c: LoadedRunConfig<unknown>,
  corpus: LabelledCorpus,
  file: string,
): { model: SequenceClassifier; params: ParamStore } {
  const n = corpus.labels.length;
  if (c.model.hfDir) {
    const loaded = loadHfModel(c.model.hfDir);
    if (loaded.task !== 'sequence-classification')
      throw configIssue(
        file,
        'model.hfDir',
        'a sequence-classifier folder (*ForSequenceClassification)',
        JSON.stringify(c.model.hfDir),
        'point it at a classifier, or give model.config for a fresh one',
      );
    if (loaded.model.config.numLabels !== n)
      throw configIssue(
        file,
        'model.hfDir',
        `a classifier with the data's ${n} labels`,
        `${loaded.model.config.numLabels} labels`,
        'use a classifier trained on the same labels',
      );
    return { model: loaded.model, params: loaded.params };
  }
  const family = c.model.family as 'gpt2';
  const model = new SequenceClassifier({
    body: {
      family,
      config: { vocabSize: corpus.tokenizer.vocabSize, maxPositions: c.data.seqLen, ...c.model.config } as never,
    },
    numLabels: n,
    pooling: c.classifier.pooling,
    labels: corpus.labels,
    padTokenId: corpus.padId,
  });
  return { model, params: ParamStore.init(model.params.values(), c.seed) };
}

interface RunPlan {
  steps: number;
  teachers: ClassifierTeacher[];
  terms?: ClassifierTerm[];
  /** Texts perturbed from the training set (words dropped and swapped) and labelled by a teacher, mixed in at a ratio. */
  augment?: { teacher: ClassifierTeacher; config: AugmentConfig };
  dir: string;
}

/** The training batches: the labelled texts, with the augmented set mixed in when the plan has one. */
async function trainingSource(
  c: LoadedRunConfig<unknown>,
  corpus: LabelledCorpus,
  plan: RunPlan,
  log: (line: string) => void,
): Promise<DataSource> {
  const B = c.data.batchSize;
  if (!plan.augment) return classificationSource(corpus.trainExamples, { batch: B, seed: c.seed });
  const { teacher, config: a } = plan.augment;
  const classify = classifierTeacher(teacher.model, teacher.params, corpus.tokenizer, {
    seq: c.data.seqLen,
    padId: corpus.padId,
    executor: await defaultExecutor(),
  });
  const texts = corpus.train.map((x) => x.text);
  const set = await labelWithClassifier({
    dir: a.dir ?? join(c.checkpoint.dir, 'augment'),
    classify,
    teacher: fingerprintWeights(teacher.model.config, teacher.params),
    texts,
    existing: texts,
    perturb: { drop: 0.1, swap: 0.1 },
    count: a.count,
    maxAttempts: a.maxAttempts,
    batch: a.batch,
    dedupe: a.dedupe,
    seed: a.seed ?? c.seed,
  });
  const generated = set.examples.map((e) => ({ text: e.text, label: e.label! }));
  log(
    `augment: ${generated.length} perturbed training texts labelled by '${teacher.name}', ${(100 * a.ratio).toFixed(0)}% of training rows`,
  );
  return classifierSource(corpus.train, generated, {
    batch: B,
    seq: c.data.seqLen,
    tokenizer: corpus.tokenizer,
    ratio: a.ratio,
    seed: c.seed,
    padId: corpus.padId,
  });
}

/** Trains (teachers given: distills) the config's classifier; saves {checkpoint.dir}/final. */
export async function runClassifier(o: {
  c: LoadedRunConfig<unknown>;
  file: string;
  io: Io;
  json: boolean;
  resume?: boolean;
  corpus: LabelledCorpus;
  plan: RunPlan;
}) {
  const { c, corpus, plan, io } = o;
  const log = (line: string) => io.err(line);
  const { model, params } = classifierFromConfig(c, corpus, o.file);
  const kind = plan.teachers.length
    ? `distilled from ${plan.teachers.map((t) => `${t.name} (${t.model.paramCount().toLocaleString('en')} parameters)`).join(', ')}`
    : 'trained on the labels';
  log(
    `classifier: ${c.model.family} body, ${model.paramCount().toLocaleString('en')} parameters, ${corpus.labels.length} labels, ${kind}`,
  );
  const B = c.data.batchSize;
  const canEval = corpus.validationExamples.n >= B;
  if (!canEval) log(`evaluation off: ${corpus.validationExamples.n} held-out texts make no batch of ${B}`);
  const balance: BalanceOptions | undefined = c.balance === 'auto' ? { mode: 'auto' } : undefined;
  const trainer = await Trainer.create({
    ...classifierObjective({ student: model, studentParams: params, teachers: plan.teachers, terms: plan.terms }),
    data: await trainingSource(c, corpus, plan, log),
    evalData: canEval
      ? classificationEval(corpus.validationExamples, { batch: B, maxBatches: c.eval.batches })
      : undefined,
    dir: plan.dir,
    steps: plan.steps,
    schedule: { ...scheduleOf(c), totalSteps: plan.steps },
    optimizer: optimizerOf(c),
    clipNorm: c.clipNorm || undefined,
    balance,
    accumulate: c.accumulate,
    evalEvery: c.eval.every,
    monitor: { metric: c.eval.monitor, mode: c.eval.mode, patience: c.eval.patience, minDelta: c.eval.minDelta },
    checkpoint: { every: c.checkpoint.every, keep: c.checkpoint.keep },
    progress: new Progress(),
    log,
    seed: c.seed,
    threads: c.threads,
    // Hashed into the checkpoints: a rerun under other teachers, terms or data settings is refused, not resumed.
    config: {
      task: 'classify',
      steps: plan.steps,
      seed: c.seed,
      optimizer: optimizerOf(c),
      schedule: c.schedule,
      lr: c.optimizer.lr,
      clipNorm: c.clipNorm,
      accumulate: c.accumulate,
      batch: B,
      seq: c.data.seqLen,
      labels: corpus.labels,
      balance: c.balance,
      teachers: plan.teachers.map((t) => [t.name, fingerprintWeights(t.model.config, t.params)]),
      terms: (plan.terms ?? null) as unknown,
      augment: plan.augment ? { ...plan.augment.config, teacher: plan.augment.teacher.name } : null,
    },
  });
  if (o.resume) {
    // The trainer says "resuming DIR from step N of M (ckpt-N)" when it finds a checkpoint.
    if ((await trainer.resume()) === null) log(`no checkpoint in ${plan.dir} yet: starting from step 0`);
  }
  const summary = await trainer.run();
  const final = join(c.checkpoint.dir, 'final');
  const own = new ParamStore();
  for (const name of model.params.keys()) own.set(name, trainer.params.get(name));
  // export and eval read the padded length the classifier was trained at from config.json.
  saveHfModel(final, model, own, { tokenizer: corpus.tokenizer, extraConfig: { retort_seq_len: c.data.seqLen } });
  const accuracy = summary.lastEval?.accuracy;
  if (!o.json) {
    io.out(
      `trained ${summary.step} steps${summary.stoppedEarly ? ' (stopped early)' : ''}; ${accuracy !== undefined ? `held-out accuracy ${(100 * accuracy).toFixed(1)}%; ` : ''}classifier in ${final}`,
    );
    io.out(`next: retort export --model ${final} --out ${join(c.checkpoint.dir, 'onnx')} --int8`);
  }
  return {
    dir: plan.dir,
    model: final,
    steps: summary.step,
    stoppedEarly: summary.stoppedEarly,
    best: summary.best,
    lastEval: summary.lastEval ?? null,
    metrics: trainer.metricsPath,
    params: model.paramCount(),
    labels: corpus.labels,
  };
}

type Step = DistillSection['strategy'];
type KdStep = Extract<Step, { kind: 'kd' }>;
type AugmentStep = Extract<Step, { kind: 'augment' }>;

/**
 * The teachers and terms of a `task: classify` distill section: Retort classifier folders; strategy
 * kd or hardLabels, optionally after augment (alone, augment is followed by kd).
 */
export function classifierPlan(
  c: LoadedRunConfig<DistillSection>,
  file: string,
  baseDir: string,
  tokenizer: Tokenizer | undefined,
): Omit<RunPlan, 'dir'> & { stage: string } {
  const d = c.distill!;
  const steps: Step[] = d.strategy.kind === 'pipeline' ? d.strategy.steps : [d.strategy];
  const supported = "'kd', 'hardLabels', or 'augment' before them (what task classify supports)";
  const where = (i: number) =>
    d.strategy.kind === 'pipeline' ? `distill.strategy.steps.${i}.kind` : 'distill.strategy.kind';
  steps.forEach((st, i) => {
    if (!['kd', 'hardLabels', 'augment'].includes(st.kind))
      throw configIssue(
        file,
        where(i),
        supported,
        JSON.stringify(st.kind),
        'distill the classifier with {kind: kd}; the other strategies train language models',
      );
  });
  const augment = steps.find((st): st is AugmentStep => st.kind === 'augment');
  const trains = steps.filter((st) => st.kind !== 'augment');
  if (trains.length > 1 || (augment && steps.indexOf(augment) !== 0)) {
    throw configIssue(
      file,
      'distill.strategy',
      'one training step (kd or hardLabels), after at most one augment step',
      JSON.stringify(steps.map((st) => st.kind)),
      'use [augment, kd], or a single kd',
    );
  }
  const s = (trains[0] ?? { kind: 'kd' }) as KdStep | Extract<Step, { kind: 'hardLabels' }>;
  const loadTeachers = (wanted: readonly string[]) =>
    d.teachers
      .filter((t) => wanted.includes(t.name))
      .map((t): ClassifierTeacher => {
        const i = d.teachers.indexOf(t);
        const src = t.source as { kind: string; hfDir?: string };
        if (src.kind !== 'retort' || !src.hfDir)
          throw configIssue(
            file,
            `distill.teachers.${i}.source`,
            'a Retort classifier folder ({kind: retort, hfDir})',
            JSON.stringify(src.kind),
            'classifier teachers run in the training graph; give the folder of a *ForSequenceClassification model',
          );
        const loaded = loadHfModel(resolve(baseDir, src.hfDir));
        if (loaded.task !== 'sequence-classification')
          throw configIssue(
            file,
            `distill.teachers.${i}.source.hfDir`,
            'a sequence-classifier folder',
            JSON.stringify(src.hfDir),
            'train one with retort train (task: classify), or point at a *ForSequenceClassification folder',
          );
        if (tokenizer && loaded.model.config.body.config.vocabSize < tokenizer.vocabSize)
          throw configIssue(
            file,
            'data.tokenizer',
            `the tokenizer of teacher '${t.name}'`,
            `a tokenizer of ${tokenizer.vocabSize} ids`,
            `set data.tokenizer to {kind: hf, path: ${src.hfDir}}`,
          );
        return { name: t.name, model: loaded.model, params: loaded.params };
      });
  const labeller = augment && loadTeachers([augment.teacher ?? d.teachers[0]?.name ?? ''])[0];
  if (augment && !labeller)
    throw configIssue(
      file,
      'distill.teachers',
      'a classifier teacher to label the augmented texts',
      'none',
      'add {name: big, source: {kind: retort, hfDir: ...}}',
    );
  const aug = augment && labeller ? { teacher: labeller, config: augment } : undefined;
  const stage = `${aug ? 2 : 1}-${s.kind}`;
  if (s.kind === 'hardLabels') return { steps: s.steps ?? c.steps, teachers: [], augment: aug, stage };
  if (s.multiTeacher && s.multiTeacher.mode !== 'per-teacher') {
    throw configIssue(
      file,
      'distill.strategy.multiTeacher.mode',
      "'per-teacher' (one term per teacher) for classifiers",
      JSON.stringify(s.multiTeacher.mode),
      'leave multiTeacher out: each term reads every teacher as a term of its own ({term}.{teacher})',
    );
  }
  const teachers = loadTeachers(s.teachers ?? d.teachers.map((t) => t.name));
  if (teachers.length === 0)
    throw configIssue(
      file,
      'distill.teachers',
      'at least one classifier teacher',
      'none',
      'add {name: big, source: {kind: retort, hfDir: ...}}, or use strategy {kind: hardLabels}',
    );
  return {
    steps: s.steps ?? c.steps,
    teachers,
    terms: s.terms?.map((t) => ({ name: t.name, loss: t.loss, teacher: t.teacher, weight: t.weight })),
    augment: aug,
    stage,
  };
}
