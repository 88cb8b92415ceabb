// Experiment: does distillation help a small LM on real text?
// A GPT-2 teacher trains on State of the Union addresses up to 1980; the same student (≥ 8×
// fewer parameters) then trains the same number of steps three ways: hard labels only, logit KD,
// and logit KD + intermediate hidden states. Validation is on 1990–2016 addresses.
//   npx tsx experiments/lm-kd.ts            (full: results in EXPERIMENTS.md)
//   npx tsx experiments/lm-kd.ts --quick    (a smoke run)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LossTerm } from '../src/distill/compose/index.ts';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import { LocalTeacher } from '../src/teachers/index.ts';
import { distillLm, evaluateLm, sotuCorpus, trainLm, type LmMetrics, type RunSettings } from './common.ts';

const { values: a } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, 'teacher-steps': { type: 'string' }, 'student-steps': { type: 'string' } } });
const quick = a.quick!;
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
const work = mkdtempSync(join(tmpdir(), 'retort-exp-'));

const corpus = sotuCorpus({ trainFrom: 1900, upTo: 1980, validFrom: 1990, validTo: 2016, vocab: quick ? 512 : 1024 });
log(`corpus: ${corpus.train.length} train tokens (${corpus.trainYears}), ${corpus.validation.length} validation tokens (${corpus.validationYears}), vocab ${corpus.vocabSize}`);

const ctx = quick ? 64 : 128, batch = 16;
const teacherConfig = { vocabSize: corpus.vocabSize, maxPositions: ctx, dModel: quick ? 128 : 192, nLayers: 4, nHeads: 4, dropout: 0.1 };
const studentConfig = { vocabSize: corpus.vocabSize, maxPositions: ctx, dModel: quick ? 32 : 64, nLayers: 2, nHeads: 2 };
const teacherSteps = Number(a['teacher-steps'] ?? (quick ? 40 : 600));
const studentSteps = Number(a['student-steps'] ?? (quick ? 40 : 500));
const settings = (name: string, steps: number, lr: number): RunSettings => ({ steps, lr, batch, ctx, seed: 1, dir: join(work, name) });

const teacherModel = new Gpt2(teacherConfig);
log(`teacher: ${teacherModel.paramCount().toLocaleString()} params, ${teacherSteps} steps`);
let t0 = performance.now();
const teacherParams = await trainLm(teacherModel, corpus, settings('teacher', teacherSteps, 1e-3), log);
const teacherSeconds = (performance.now() - t0) / 1000;
const teacher = new LocalTeacher('t', new Gpt2({ ...teacherConfig, dropout: 0 }), teacherParams);
const evalOpts = { batch, ctx, maxBatches: quick ? 4 : 16 };
const results: Record<string, LmMetrics & { params: number; seconds: number }> = {};
results.teacher = { ...(await evaluateLm(teacher.local!.model as Gpt2, teacherParams, teacher, corpus, evalOpts)), params: teacherModel.paramCount(), seconds: teacherSeconds };
log(`teacher: ${JSON.stringify(results.teacher)}`);

const methods: Record<string, LossTerm[] | 'hard'> = {
  'hard labels': 'hard',
  'logit KD': [{ name: 'kd', config: { kind: 'logits', alpha: 0.5, temperature: 2 } }],
  'logit KD + hidden': [
    { name: 'kd', config: { kind: 'logits', alpha: 0.5, temperature: 2 } },
    { name: 'hidden', config: { kind: 'hidden', metric: 'mse' } },
  ],
};
for (const [name, terms] of Object.entries(methods)) {
  const student = new Gpt2(studentConfig);
  log(`student (${name}): ${student.paramCount().toLocaleString()} params, ${studentSteps} steps`);
  t0 = performance.now();
  const s = settings(name.replace(/\W+/g, '-'), studentSteps, 3e-3);
  const params = terms === 'hard' ? await trainLm(student, corpus, s, log) : await distillLm(student, teacher, { ...teacherConfig, dropout: 0 }, terms, corpus, s, log);
  results[name] = { ...(await evaluateLm(student, params, teacher, corpus, evalOpts)), params: student.paramCount(), seconds: (performance.now() - t0) / 1000 };
  log(`${name}: ${JSON.stringify(results[name])}`);
}

const scratch = results['hard labels']!.perplexity, top = results.teacher!.perplexity;
const rows = Object.entries(results).map(([name, r]) => {
  const gap = name === 'teacher' || name === 'hard labels' ? '' : `${(((scratch - r.perplexity) / (scratch - top)) * 100).toFixed(1)}%`;
  return `| ${name} | ${r.params.toLocaleString()} | ${r.perplexity.toFixed(2)} | ${(r.top1Agreement * 100).toFixed(1)}% | ${r.klToTeacher.toFixed(3)} | ${gap} | ${r.seconds.toFixed(0)} |`;
});
const table = [
  `Teacher ${results.teacher!.params.toLocaleString()} params vs student ${results['hard labels']!.params.toLocaleString()} (${(results.teacher!.params / results['hard labels']!.params).toFixed(1)}× fewer); ${teacherSteps} teacher steps, ${studentSteps} student steps, batch ${batch} × ${ctx} tokens.`,
  '',
  '| model | params | val perplexity | top-1 agreement with teacher | KL(teacher‖student) | teacher–scratch gap closed | train s |',
  '|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(`\n${table}\n`);
if (a.out) writeFileSync(a.out, JSON.stringify({ corpus: { train: corpus.trainYears, validation: corpus.validationYears, vocab: corpus.vocabSize }, teacherSteps, studentSteps, results }, null, 2));
