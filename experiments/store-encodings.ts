// Experiment: does the compact store encoding cost KD quality, and do sampled targets beat top-k at
// equal bytes? Same setup as strategies.ts section 2, smaller: SOTU 1925–1980 for the teacher, the
// 1900–1980 text for the students, 1990–2016 held out. One teacher; students distilled from an
// offline store written five ways (f32 top-20, compact top-20, compact top-12, compact sampled-12,
// compact sampled-20), each over three student seeds. Runs with the same store layout share one
// store (labelled once). The default KD term after an offline step: top-k KD, alpha 0.5, T 1.
//   nice -n 5 npx tsx experiments/store-encodings.ts [--quick] [--out file.json]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSotu } from '../src/data/sotu.ts';
import {
  createDistillContext, runDistill, type DistillConfigInput, type DistillContext, type TeacherEntry,
} from '../src/distill/strategies/index.ts';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import type { Gpt2ConfigInput } from '../src/models/gpt2/config.ts';
import { trainByteLevelBpe } from '../src/models/tokenizers/train-byte-level-bpe.ts';
import { defaultAdamW } from '../src/optim/index.ts';
import { defaultExecutor } from '../src/runtime/index.ts';
import { LocalTeacher } from '../src/teachers/index.ts';
import { evaluateLm, type Corpus } from './common.ts';

const { values: a } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } } });
const quick = a.quick!;
const command = `nice -n 5 npx tsx experiments/store-encodings.ts ${process.argv.slice(2).join(' ')}`.trim();
const started = performance.now();
const since = (t: number) => (performance.now() - t) / 1000;
const log = (m: string) => console.log(`[+${since(started).toFixed(0)}s] ${m}`);
const work = mkdtempSync(join(tmpdir(), 'retort-store-encodings-'));

// ---- settings (strategies.ts section 2's, fewer steps) -------------------------------------------
const VOCAB = 512, SEQ = 64, BATCH = 16;
const TEACHER_STEPS = quick ? 30 : 300, STUDENT_STEPS = quick ? 20 : 200;
const SEEDS = quick ? [1] : [1, 2, 3];
const EVAL_PREFIX = quick ? 256 : 1200, EVAL_BATCHES = quick ? 4 : 32;

// ---- corpus -------------------------------------------------------------------------------------
const sotu = loadSotu();
const texts = (from: number, to: number) => sotu.filter((s) => s.year >= from && s.year <= to).map((s) => s.text).join('\n\n');
const tokenizer = trainByteLevelBpe([texts(1900, 1980)], { vocabSize: VOCAB });
const sep = tokenizer.encode('\n\n');
const train = Int32Array.from(tokenizer.encode(texts(1900, 1980)));
const teacherText = Int32Array.from(tokenizer.encode(texts(1925, 1980)));
const validation = Int32Array.from(
  sotu.filter((s) => s.year >= 1990 && s.year <= 2016).flatMap((s, i) => [...(i ? sep : []), ...tokenizer.encode(s.text).slice(0, EVAL_PREFIX)]),
);
const corpus: Corpus = { vocabSize: tokenizer.vocabSize, train, validation, trainYears: '1900–1980', validationYears: '1990–2016' };
const evalTokens = Math.min(EVAL_BATCHES, Math.floor(Math.floor((validation.length - 1) / SEQ) / BATCH)) * BATCH * SEQ;
log(`train ${train.length} tokens, teacher text ${teacherText.length}, held out ${validation.length} (${evalTokens} evaluated), vocab ${tokenizer.vocabSize}`);

const teacherConfig: Gpt2ConfigInput = { vocabSize: tokenizer.vocabSize, maxPositions: SEQ, dModel: 96, nLayers: 3, nHeads: 4 };
const studentConfig: Gpt2ConfigInput = { vocabSize: tokenizer.vocabSize, maxPositions: SEQ, dModel: 48, nLayers: 2, nHeads: 2 };
const executor = await defaultExecutor();

function context(name: string, o: { model?: Gpt2; teachers?: TeacherEntry[]; data?: Int32Array; steps: number; lr: number; seed: number }): Promise<DistillContext> {
  const config = o.model?.config ?? studentConfig;
  return createDistillContext({
    student: { model: o.model ?? new Gpt2(studentConfig), rebuild: () => new Gpt2(config) },
    teachers: o.teachers,
    data: { train: o.data ?? train, validation, tokenizer },
    settings: {
      dir: join(work, name), steps: o.steps, batch: BATCH, seq: SEQ,
      schedule: { lr: o.lr, warmupSteps: Math.min(30, Math.floor(o.steps / 10)) },
      optimizer: defaultAdamW(), clipNorm: 1, evalEvery: 0, evalBatches: EVAL_BATCHES, seed: o.seed, executor, progress: false,
    },
  });
}

// ---- teacher ------------------------------------------------------------------------------------
const teacherModel = new Gpt2(teacherConfig);
const tctx = await context('teacher', { model: teacherModel, data: teacherText, steps: TEACHER_STEPS, lr: 2e-3, seed: 12 });
await runDistill(tctx, { kind: 'hardLabels' });
const teacher = new LocalTeacher('late', teacherModel, tctx.student.params!, tokenizer);
const evalOpts = { batch: BATCH, ctx: SEQ, maxBatches: EVAL_BATCHES };
const teacherPpl = (await evaluateLm(teacherModel, tctx.student.params!, null, corpus, evalOpts)).perplexity;
log(`teacher: ${TEACHER_STEPS} steps, perplexity ${teacherPpl.toFixed(2)}`);

// ---- students from stores -------------------------------------------------------------------------
interface Variant { name: string; encoding: 'compact' | 'f32'; targets: 'topk' | 'sampled'; k: number }
const variants: Variant[] = [
  { name: 'f32 top-20', encoding: 'f32', targets: 'topk', k: 20 },
  { name: 'compact top-20', encoding: 'compact', targets: 'topk', k: 20 },
  { name: 'compact top-12', encoding: 'compact', targets: 'topk', k: 12 },
  { name: 'compact sampled-12', encoding: 'compact', targets: 'sampled', k: 12 },
  { name: 'compact sampled-20', encoding: 'compact', targets: 'sampled', k: 20 },
];
const maxExamples = STUDENT_STEPS * BATCH;
const stride = Math.floor((train.length - SEQ - 1) / maxExamples);
interface Row { perplexity: number; top1: number; kl: number; seconds: number; labelSeconds: number; bytesPerToken: number }
const results: Record<string, Row[]> = {};
for (const v of variants) {
  const store = join(work, `store-${v.name.replace(/\W+/g, '-')}`);
  results[v.name] = [];
  for (const seed of SEEDS) {
    const ctx = await context(`${v.name.replace(/\W+/g, '-')}-seed${seed}`, {
      teachers: [{ name: 'late', teacher, mode: 'in-graph', rebuild: () => new Gpt2(teacherConfig) }],
      steps: STUDENT_STEPS, lr: 3e-3, seed,
    });
    const offline = { kind: 'offline' as const, dir: store, encoding: v.encoding, targets: v.targets, stride, maxExamples, labelBatch: 32, ...(v.targets === 'sampled' ? { samples: v.k, seed: 0 } : { topK: v.k }) };
    const t = performance.now(), load = loadavg()[0]!;
    let labelledAt = 0; // seconds into the run of the last labelling progress line
    ctx.hooks.log = (line) => void (line.startsWith('offline:') && (labelledAt = since(t)));
    await runDistill(ctx, { kind: 'pipeline', steps: [offline, { kind: 'kd' }] } satisfies DistillConfigInput);
    const seconds = since(t);
    const m = await evaluateLm(ctx.student.model as Gpt2, ctx.student.params!, teacher, corpus, evalOpts);
    const details = ctx.reports[0]!.details!.stores as Record<string, { bytesPerToken: number }>;
    const row = { perplexity: m.perplexity, top1: m.top1Agreement, kl: m.klToTeacher, seconds, labelSeconds: labelledAt, bytesPerToken: details.late!.bytesPerToken };
    results[v.name]!.push(row);
    log(`${v.name}, seed ${seed}: perplexity ${row.perplexity.toFixed(2)}, top-1 ${(row.top1 * 100).toFixed(1)}%, KL ${row.kl.toFixed(3)}, ${row.bytesPerToken.toFixed(1)} B/token, ${seconds.toFixed(0)} s (labelling ${labelledAt.toFixed(0)} s; load ${load.toFixed(1)})`);
  }
  rmSync(store, { recursive: true, force: true });
  rmSync(`${store}-heldout`, { recursive: true, force: true });
}

// ---- table --------------------------------------------------------------------------------------
const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
const f2 = (x: number) => x.toFixed(2);
const table = [
  `| store | bytes/token | ${SEEDS.map((s) => `ppl seed ${s}`).join(' | ')} | ppl mean | ppl max − min | top-1 agr. mean | KL(teacher‖·) mean |`,
  `|---|---|${SEEDS.map(() => '---|').join('')}---|---|---|---|`,
  ...variants.map((v) => {
    const rs = results[v.name]!;
    const ppl = rs.map((r) => r.perplexity);
    return `| ${v.name} | ${rs[0]!.bytesPerToken.toFixed(1)} | ${ppl.map(f2).join(' | ')} | ${f2(mean(ppl))} | ${f2(Math.max(...ppl) - Math.min(...ppl))} | ${(mean(rs.map((r) => r.top1)) * 100).toFixed(1)}% | ${mean(rs.map((r) => r.kl)).toFixed(3)} |`;
  }),
].join('\n');
console.log(`\nteacher perplexity ${f2(teacherPpl)}\n\n${table}\n`);
log(`total ${since(started).toFixed(0)} s`);
if (a.out) writeFileSync(a.out, JSON.stringify({ command, totalSeconds: since(started), teacherSteps: TEACHER_STEPS, studentSteps: STUDENT_STEPS, seeds: SEEDS, teacherPerplexity: teacherPpl, evalTokens, maxExamples, stride, results, table }, null, 2));
rmSync(work, { recursive: true, force: true });
