// Report inputs with every section filled, for the report's tests (unit and headless browser): the
// sample run, and the same with scores of generated answers and side-by-side examples.
import type { MetricsRecord } from '../distill/trainer/index.ts';
import { EVAL_SCHEMA, EVAL_VERSION, type EvalReport, type ModelEval } from '../eval/index.ts';
import type { ReportInput } from './report.ts';

function curve(
  steps: number,
  start: number,
  end: number,
  terms: Record<string, number>,
  evalEvery: number,
): MetricsRecord[] {
  const out: MetricsRecord[] = [{ type: 'start', step: 0, steps }];
  for (let s = 1; s <= steps; s++) {
    const f = Math.exp(-3 * (s / steps));
    const loss = end + (start - end) * f;
    out.push({
      type: 'step',
      step: s,
      loss,
      terms: Object.fromEntries(Object.entries(terms).map(([k, w]) => [k, loss * w])),
      gradNorm: 1,
      lr: 1e-3,
      weights: {},
      ms: 10,
    });
    if (s % evalEvery === 0)
      out.push({
        type: 'eval',
        step: s,
        loss: loss + 0.1,
        terms: {},
        accuracy: 0.2 + 0.3 * (1 - f),
        perplexity: Math.exp(loss + 0.1),
        batches: 4,
      });
  }
  out.push({ type: 'step', step: steps + 1, loss: NaN, terms: {}, gradNorm: NaN, lr: 0, weights: {}, ms: 0 }); // a diverged step is not drawn
  return out;
}

function model(
  name: string,
  role: 'teacher' | 'student',
  params: number,
  ppl: number,
  top1: number,
  kl: number,
): ModelEval {
  return {
    name,
    role,
    params,
    files: {
      fp32: { path: `${name}/onnx/model.onnx`, bytes: params * 4 + 1000 },
      int8: { path: `${name}/onnx/model_quantized.onnx`, bytes: params + 3000 },
    },
    quality: { items: 2048, accuracy: 0.3, perplexity: ppl, nll: Math.log(ppl) },
    agreement: { items: 2048, top1, kl },
    speed: {
      latencyMs: { p50: params / 1e5, p95: params / 8e4, mean: params / 9e4, runs: 20 },
      throughput: { batch: 8, perSecond: 1e9 / params, unit: 'tokens/s' },
    },
    memory: {
      peakBytes: 60e6 + params * 8,
      baselineBytes: 60e6,
      modelBytes: params * 8,
      file: `${name}/onnx/model.onnx`,
    },
  };
}

export function sampleEvalReport(): EvalReport {
  return {
    schema: EVAL_SCHEMA,
    version: EVAL_VERSION,
    createdAt: new Date(0).toISOString(),
    task: 'lm',
    data: { description: 'SOTU addresses after 1900 <held out>', batches: 4, seq: 64 },
    settings: { threads: 1, warmup: 3, runs: 20, throughputBatch: 8 },
    teacher: 'teacher',
    models: [
      model('teacher', 'teacher', 3_400_000, 40, 1, 0),
      model('student', 'student', 170_000, 70, 0.55, 0.4),
      model('baseline', 'student', 170_000, 75, 0.45, 0.6),
    ],
  };
}

export function sampleReportInput(): ReportInput {
  return {
    title: 'Retort demo <test>',
    summary: 'A teacher, a distilled student & a baseline.',
    runs: [
      { name: 'teacher', metrics: curve(60, 7, 4, { ce: 1 }, 20) },
      { name: 'student (KD)', metrics: curve(40, 7, 5, { kd: 0.8, 'kd/ce': 1, hidden: 0.1 }, 10) },
      { name: 'baseline', metrics: curve(40, 7, 5.3, { ce: 1 }, 10) },
    ],
    eval: sampleEvalReport(),
    samples: {
      kind: 'generation',
      items: [
        {
          prompt: 'The state of the <Union>',
          outputs: { teacher: ' is strong', student: ' is good', baseline: ' the the' },
        },
      ],
    },
    facts: [
      ['report', '/tmp/x/report.html'],
      ['web demo', 'retort web --dir /tmp/x/student'],
    ],
  };
}

/** The sample evaluation with scores of generated answers (g2p), the generation settings and examples, HTML in some answers. */
export function sampleTaskEvalReport(): EvalReport {
  const r = sampleEvalReport();
  const task = [
    {
      items: 8,
      exactMatch: 0.75,
      tokenF1: 0.9,
      chrF: 92.5,
      tokenErrorRate: 0.06,
      teacherExact: 1,
      teacherChrF: 100,
      teacherLogprob: -0.21,
      latencyMsPerAnswer: 41.3,
    },
    {
      items: 8,
      exactMatch: 0.625,
      tokenF1: 0.85,
      chrF: 88.1,
      tokenErrorRate: 0.11,
      teacherExact: 0.75,
      teacherChrF: 93.4,
      teacherLogprob: -0.48,
      latencyMsPerAnswer: 6.2,
    },
    {
      items: 8,
      exactMatch: 0.375,
      tokenF1: 0.7,
      chrF: 75.9,
      tokenErrorRate: 0.24,
      teacherExact: 0.5,
      teacherChrF: 80.2,
      teacherLogprob: -1.37,
      latencyMsPerAnswer: 6.0,
    },
  ];
  return {
    ...r,
    models: r.models.map((m, i) => ({ ...m, task: task[i]! })),
    generation: { maxNewTokens: 24, temperature: 0, topP: 1, topK: 0, seed: 0 },
    examples: [
      {
        prompt: 'ABACUS',
        reference: 'AE1 B AH0 K AH0 S',
        answers: { teacher: 'AE1 B AH0 K AH0 S', student: 'ae1 b ah0 k ah0 s', baseline: 'AE1 B AH0 K AH1 S' },
      },
      {
        prompt: 'ZEBRA',
        reference: 'Z IY1 B R AH0',
        answers: { baseline: '<img src=x onerror=alert(1)>', student: 'Z IY1 B R AH0', teacher: 'Z IY1 B R AH0' },
      },
      { prompt: 'Q & <A>', reference: null, answers: { teacher: 'K Y UW1', student: 'K Y UW1 <b>' } },
    ],
  };
}

export function sampleTaskReportInput(): ReportInput {
  return { ...sampleReportInput(), title: 'Retort g2p demo', eval: sampleTaskEvalReport(), samples: undefined };
}
