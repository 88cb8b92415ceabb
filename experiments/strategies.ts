// Experiment: the distillation strategies of src/distill/strategies on real text, at a small scale.
// State of the Union addresses 1900–1980 to train on (byte-level BPE, 512 tokens, trained on them),
// the addresses of 1990–2016 held out (the first EVAL_PREFIX tokens of each, so every year counts).
// Two GPT-2 teachers trained differently (other years, other seed): 1900–1924 and 1925–1980.
//  1. multi-teacher: one student from each teacher alone, and from both (weighted and confidence mix)
//  2. offline (cached top-k store) vs online (teacher trains alongside, from scratch) vs the frozen teacher in-graph
//  3. born-again: generation 2 (learns from generation 1) vs generation 1 (hard labels), same architecture
//  4. augmentation: teacher-generated continuations mixed into the batches at ratio 0.25, vs none
//  5. loss balancing: logit KD + hidden-state MSE at configured weights 1 : 1, fixed vs balance 'auto'
//  appendix: the student's seed alone (hard labels, KD from the best teacher), to read the differences against
// Every run goes through runDistill (the strategies table); metrics come from experiments/common.ts.
//   nice -n 5 npx tsx experiments/strategies.ts [--quick] [--out file.json] [--teacher-steps N] [--student-steps N] [--keep]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSotu } from '../src/data/sotu.ts';
import {
  createDistillContext, runDistill, type DistillConfigInput, type DistillContext, type GenerationReport, type OfflineTeacher, type TeacherEntry,
} from '../src/distill/strategies/index.ts';
import type { StepRecord } from '../src/distill/trainer/index.ts';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import type { Gpt2ConfigInput } from '../src/models/gpt2/config.ts';
import type { HfTokenizer } from '../src/models/tokenizers/hf-tokenizer.ts';
import { trainByteLevelBpe } from '../src/models/tokenizers/train-byte-level-bpe.ts';
import { defaultAdamW } from '../src/optim/index.ts';
import { defaultExecutor, ParamStore } from '../src/runtime/index.ts';
import { LocalTeacher } from '../src/teachers/index.ts';
import { evaluateLm, type Corpus, type LmMetrics } from './common.ts';

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    'teacher-steps': { type: 'string' },
    'student-steps': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const quick = a.quick!;
const command = `nice -n 5 npx tsx experiments/strategies.ts ${process.argv.slice(2).join(' ')}`.trim();
const started = performance.now();
const since = (t: number) => (performance.now() - t) / 1000;
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)} +${since(started).toFixed(0)}s] ${m}`);
const work = mkdtempSync(join(tmpdir(), 'retort-strategies-'));

// ---- settings ---------------------------------------------------------------------------------
const VOCAB = 512, SEQ = 64, BATCH = 16, SEED = 1;
const EVAL_PREFIX = quick ? 256 : 1200; // tokens of each held-out address
const EVAL_BATCHES = quick ? 4 : 32;
const teacherSteps = Number(a['teacher-steps'] ?? (quick ? 30 : 400));
const studentSteps = Number(a['student-steps'] ?? (quick ? 20 : 200));
const TEACHER_LR = 2e-3, STUDENT_LR = 3e-3;
const SPLIT_YEAR = 1924; // the early teacher reads 1900–1924, the late one 1925–1980 (about half the text each)
const AUG = { ratio: 0.25, count: quick ? 32 : 384, promptTokens: 16, maxNewTokens: 48, temperature: 1, topP: 0.95, batch: 16 };
const OFFLINE_TOPK = 20;

// ---- corpus -------------------------------------------------------------------------------------
const concat = (parts: readonly ArrayLike<number>[]): Int32Array => {
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
let t0 = performance.now();
const sotu = loadSotu();
const texts = (from: number, to: number) => sotu.filter((s) => s.year >= from && s.year <= to).map((s) => s.text);
const earlyText = texts(1900, SPLIT_YEAR).join('\n\n'), lateText = texts(SPLIT_YEAR + 1, 1980).join('\n\n');
const tokenizer: HfTokenizer = trainByteLevelBpe([`${earlyText}\n\n${lateText}`], { vocabSize: VOCAB });
const sep = tokenizer.encode('\n\n');
const earlyIds = Int32Array.from(tokenizer.encode(earlyText)), lateIds = Int32Array.from(tokenizer.encode(lateText));
const train = concat([earlyIds, sep, lateIds]);
const validSpeeches = sotu.filter((s) => s.year >= 1990 && s.year <= 2016);
const validation = concat(validSpeeches.flatMap((s, i) => [...(i ? [sep] : []), tokenizer.encode(s.text).slice(0, EVAL_PREFIX)]));
const corpusSeconds = since(t0);
// evaluateLm (common.ts) reads vocabSize and validation.
const corpus: Corpus = { vocabSize: tokenizer.vocabSize, train, validation, trainYears: '1900–1980', validationYears: '1990–2016' };
const evalTokens = Math.min(EVAL_BATCHES, Math.floor(Math.floor((validation.length - 1) / SEQ) / BATCH)) * BATCH * SEQ;
log(`corpus (${corpusSeconds.toFixed(1)} s): train ${train.length} tokens (1900–${SPLIT_YEAR}: ${earlyIds.length}, ${SPLIT_YEAR + 1}–1980: ${lateIds.length}); ` +
  `held out ${validation.length} tokens (first ${EVAL_PREFIX} of each of ${validSpeeches.length} addresses 1990–2016), ${evalTokens} evaluated; vocab ${tokenizer.vocabSize}`);

const teacherConfig: Gpt2ConfigInput = { vocabSize: tokenizer.vocabSize, maxPositions: SEQ, dModel: 96, nLayers: 3, nHeads: 4 };
const studentConfig: Gpt2ConfigInput = { vocabSize: tokenizer.vocabSize, maxPositions: SEQ, dModel: 48, nLayers: 2, nHeads: 2 };
const executor = await defaultExecutor();

// ---- runs ---------------------------------------------------------------------------------------
interface StageTiming { steps: number; firstStep?: number; lastStep?: number }
/** Wall time of the whole call, this process's CPU time, the 1-minute load average when it started (other jobs share the CPU), and ms per step of its last training stage. */
interface Timing { seconds: number; cpuSeconds: number; load: number; msPerStep: number }
interface Run extends Timing { ctx: DistillContext; stages: Record<string, StageTiming>; logs: { t: number; line: string }[]; last?: StepRecord }
const timing = (r: Timing): Timing => ({ seconds: r.seconds, cpuSeconds: r.cpuSeconds, load: r.load, msPerStep: r.msPerStep });
const msPerStep = (s: StageTiming) => ((s.lastStep! - s.firstStep!) / Math.max(1, s.steps - 1)) * 1000;

/** A context over the training text (or `data`), its own folder, the given student and teachers. */
async function context(name: string, o: { model?: Gpt2; teachers?: TeacherEntry[]; lr?: number; data?: Int32Array; steps?: number; balance?: boolean }): Promise<DistillContext> {
  const config = o.model?.config ?? studentConfig;
  const steps = o.steps ?? studentSteps;
  return createDistillContext({
    student: { model: o.model ?? new Gpt2(studentConfig), rebuild: () => new Gpt2(config) },
    teachers: o.teachers,
    data: { train: o.data ?? train, validation, tokenizer },
    settings: {
      dir: join(work, name), steps, batch: BATCH, seq: SEQ,
      schedule: { lr: o.lr ?? STUDENT_LR, warmupSteps: Math.min(30, Math.floor(steps / 10)) },
      optimizer: defaultAdamW(), clipNorm: 1, evalEvery: 0, evalBatches: EVAL_BATCHES, seed: SEED, executor, progress: false,
      ...(o.balance ? { balance: { mode: 'auto' as const } } : {}),
    },
  });
}

/** Runs a config through runDistill, timing the whole call and each training stage's steps. */
async function run(ctx: DistillContext, config: DistillConfigInput, label: string): Promise<Run> {
  const stages: Record<string, StageTiming> = {};
  const logs: Run['logs'] = [];
  let last: StepRecord | undefined;
  const t = performance.now(), cpu = process.cpuUsage(), load = loadavg()[0]!;
  ctx.hooks.onTrainerEvent = (stage, e) => {
    if (e.type !== 'step') return;
    last = e.record;
    const s = (stages[stage] ??= { steps: 0 });
    s.steps++;
    s.firstStep ??= since(t);
    s.lastStep = since(t);
    if (e.record.step % 100 === 0) log(`  ${label} ${stage} step ${e.record.step}: loss ${e.record.loss.toFixed(4)}`);
  };
  ctx.hooks.log = (line) => logs.push({ t: since(t), line });
  await runDistill(ctx, config);
  const seconds = since(t);
  const used = process.cpuUsage(cpu);
  const per = Object.entries(stages).map(([k, s]) => `${k} ${s.steps} steps ${msPerStep(s).toFixed(0)} ms/step`).join('; ');
  log(`${label}: ${seconds.toFixed(1)} s (${per}; load ${load.toFixed(1)} at start)`);
  return { ctx, seconds, cpuSeconds: (used.user + used.system) / 1e6, load, msPerStep: msPerStep(Object.values(stages).at(-1)!), stages, logs, last };
}

const evalOpts = { batch: BATCH, ctx: SEQ, maxBatches: EVAL_BATCHES };
interface Metrics { perplexity: number; agreement: Record<string, { top1: number; kl: number }> }
/** Held-out perplexity, and top-1 agreement and KL(teacher ‖ model) with each named teacher. */
async function measure(model: Gpt2, params: ParamStore, teachers: Record<string, LocalTeacher>): Promise<Metrics> {
  const names = Object.keys(teachers);
  let perplexity = NaN;
  const agreement: Metrics['agreement'] = {};
  if (names.length === 0) perplexity = (await evaluateLm(model, params, null, corpus, evalOpts)).perplexity;
  for (const n of names) {
    const m: LmMetrics = await evaluateLm(model, params, teachers[n]!, corpus, evalOpts);
    perplexity = m.perplexity;
    agreement[n] = { top1: m.top1Agreement, kl: m.klToTeacher };
  }
  return { perplexity, agreement };
}
const studentMetrics = (ctx: DistillContext, teachers: Record<string, LocalTeacher>) => measure(ctx.student.model as Gpt2, ctx.student.params!, teachers);

const inGraph = (t: LocalTeacher): TeacherEntry => ({ name: t.name, teacher: t, mode: 'in-graph', rebuild: () => new Gpt2(teacherConfig) });
const f2 = (x: number) => x.toFixed(2), pct = (x: number) => `${(x * 100).toFixed(1)}%`, s0 = (x: number) => x.toFixed(0);

// ---- teachers -----------------------------------------------------------------------------------
log(`teacher ${new Gpt2(teacherConfig).paramCount().toLocaleString()} params (GPT-2 ${teacherConfig.nLayers} layers, d ${teacherConfig.dModel}); student ${new Gpt2(studentConfig).paramCount().toLocaleString()} params (${studentConfig.nLayers} layers, d ${studentConfig.dModel}); ${teacherSteps} teacher steps, ${studentSteps} student steps, batch ${BATCH} × ${SEQ}`);
async function trainTeacher(name: string, data: Int32Array, seed: number) {
  const model = new Gpt2(teacherConfig);
  const ctx = await context(`teacher-${name}`, { model, lr: TEACHER_LR, data, steps: teacherSteps });
  ctx.settings.seed = seed;
  const r = await run(ctx, { kind: 'hardLabels' }, `teacher ${name}`);
  return { teacher: new LocalTeacher(name, model, ctx.student.params!, tokenizer), ...timing(r) };
}
const early = await trainTeacher('early', earlyIds, 11);
const late = await trainTeacher('late', lateIds, 12);
const teachers = { early: early.teacher, late: late.teacher };
const teacherRows: Record<string, Metrics & Timing & { years: string }> = {
  early: { ...(await measure(early.teacher.local.model as Gpt2, early.teacher.local.params, teachers)), ...timing(early), years: `1900–${SPLIT_YEAR}` },
  late: { ...(await measure(late.teacher.local.model as Gpt2, late.teacher.local.params, teachers)), ...timing(late), years: `${SPLIT_YEAR + 1}–1980` },
};
for (const [k, r] of Object.entries(teacherRows)) log(`teacher ${k}: perplexity ${f2(r.perplexity)}`);
const bestName = teacherRows.early!.perplexity <= teacherRows.late!.perplexity ? 'early' : 'late';
const best = teachers[bestName];
log(`best single teacher on held-out text: ${bestName}`);

// ---- 1. multi-teacher -----------------------------------------------------------------------------
type Row = Metrics & Timing & { note?: string };
const s1: Record<string, Row> = {};
{
  const hard = await run(await context('hard', {}), { kind: 'hardLabels' }, 'hard labels');
  s1['hard labels (no teacher)'] = { ...(await studentMetrics(hard.ctx, teachers)), ...timing(hard) };
  const kdRuns: [string, TeacherEntry[], DistillConfigInput][] = [
    ['KD from early only', [inGraph(early.teacher)], { kind: 'kd' }],
    ['KD from late only', [inGraph(late.teacher)], { kind: 'kd' }],
    ['KD from both, weighted mix (1:1)', [inGraph(early.teacher), inGraph(late.teacher)], { kind: 'kd', multiTeacher: { mode: 'weighted' } }],
    ['KD from both, confidence mix', [inGraph(early.teacher), inGraph(late.teacher)], { kind: 'kd', multiTeacher: { mode: 'confidence' } }],
  ];
  for (const [label, ts, config] of kdRuns) {
    const r = await run(await context(label.replace(/\W+/g, '-'), { teachers: ts }), config, label);
    s1[label] = { ...(await studentMetrics(r.ctx, teachers)), ...timing(r) };
    log(`${label}: perplexity ${f2(s1[label]!.perplexity)}`);
  }
}
const kdTerm = 'logit KD, alpha 0.5, T 1 (the kd default)';
const table1 = [
  `### 1. Multi-teacher vs best single teacher`,
  '',
  `Teachers: GPT-2 ${teacherConfig.nLayers}×${teacherConfig.dModel}, ${teacherSteps} steps each; 'early' on 1900–${SPLIT_YEAR} (seed 11), 'late' on ${SPLIT_YEAR + 1}–1980 (seed 12). ` +
    `Student ${studentConfig.nLayers}×${studentConfig.dModel}, ${studentSteps} steps on 1900–1980, ${kdTerm}; teachers in-graph. Held out: ${evalTokens} tokens of 1990–2016.`,
  '',
  '| model | val perplexity | top-1 agr. early | KL(early‖·) | top-1 agr. late | KL(late‖·) | train s | ms/step | load |',
  '|---|---|---|---|---|---|---|---|---|',
  ...Object.entries(teacherRows).map(([k, r]) => `| teacher ${k} (${r.years}) | ${f2(r.perplexity)} | ${pct(r.agreement.early!.top1)} | ${r.agreement.early!.kl.toFixed(3)} | ${pct(r.agreement.late!.top1)} | ${r.agreement.late!.kl.toFixed(3)} | ${s0(r.seconds)} | ${s0(r.msPerStep)} | ${r.load.toFixed(1)} |`),
  ...Object.entries(s1).map(([k, r]) => `| ${k} | ${f2(r.perplexity)} | ${pct(r.agreement.early!.top1)} | ${r.agreement.early!.kl.toFixed(3)} | ${pct(r.agreement.late!.top1)} | ${r.agreement.late!.kl.toFixed(3)} | ${s0(r.seconds)} | ${s0(r.msPerStep)} | ${r.load.toFixed(1)} |`),
  '',
  `Command: \`${command}\``,
].join('\n');
console.log(`\n${table1}\n`);

// ---- 2. offline vs online vs in-graph --------------------------------------------------------------
interface Row2 extends Row { loss: string; labelSeconds: number; trainSeconds: number; teacherSeconds: number; teacherPerplexity?: number }
const s2: Record<string, Row2> = {};
const bestKd = s1[`KD from ${bestName} only`]!;
const teacherSeconds = bestName === 'early' ? early.seconds : late.seconds;
const vsBest = { [bestName]: best } as Record<string, LocalTeacher>;
s2['hard labels (no teacher)'] = { ...s1['hard labels (no teacher)']!, loss: 'CE', labelSeconds: 0, trainSeconds: s1['hard labels (no teacher)']!.seconds, teacherSeconds: 0 };
s2['in-graph frozen teacher'] = { ...bestKd, loss: 'logit KD (full distribution)', labelSeconds: 0, trainSeconds: bestKd.seconds, teacherSeconds };
{
  const topk = { name: 'kd', loss: { kind: 'topk' as const, alpha: 0.5 }, topK: OFFLINE_TOPK };
  const r = await run(await context('in-graph-topk', { teachers: [inGraph(best)] }), { kind: 'kd', terms: [topk] }, 'in-graph top-k');
  s2[`in-graph frozen teacher, top-${OFFLINE_TOPK}`] = { ...(await studentMetrics(r.ctx, vsBest)), ...timing(r), loss: `top-${OFFLINE_TOPK} KD`, labelSeconds: 0, trainSeconds: r.seconds, teacherSeconds };

  // Offline: the examples the student draws (steps × batch rows) are labelled once; the windows are spread over the whole text.
  const maxExamples = studentSteps * BATCH;
  const stride = Math.floor((train.length - SEQ - 1) / maxExamples);
  const off = await run(await context('offline', { teachers: [inGraph(best)] }),
    { kind: 'pipeline', steps: [{ kind: 'offline', topK: OFFLINE_TOPK, stride, maxExamples, labelBatch: 32 }, { kind: 'kd' }] }, 'offline');
  const labelSeconds = off.logs.filter((l) => l.line.startsWith('offline:')).at(-1)?.t ?? NaN;
  const served = (off.ctx.teachers[0]!.teacher as OfflineTeacher).served;
  s2[`offline store, top-${OFFLINE_TOPK}`] = {
    ...(await studentMetrics(off.ctx, vsBest)), ...timing(off), loss: `top-${OFFLINE_TOPK} KD`, labelSeconds, trainSeconds: off.seconds - labelSeconds, teacherSeconds,
    note: `${maxExamples} examples (stride ${stride}) + held-out rows labelled; rows served: ${served.store} from the store, ${served.live} live`,
  };

  // Online: a teacher of the same architecture, from a fresh initialization, learns the task alongside the student.
  const fresh = new Gpt2(teacherConfig);
  const online = new LocalTeacher('online', fresh, ParamStore.init(fresh.params.values(), 13), tokenizer);
  const on = await run(await context('online', { teachers: [inGraph(online)] }), { kind: 'online' }, 'online');
  const coTrained = on.ctx.teachers[0]!.teacher as LocalTeacher;
  const coPpl = (await measure(coTrained.local.model as Gpt2, coTrained.local.params, {})).perplexity;
  const onMetrics = await studentMetrics(on.ctx, { ...vsBest, online: coTrained });
  s2['online (teacher trains alongside, from scratch)'] = {
    ...onMetrics, ...timing(on), loss: 'logit KD (full distribution)', labelSeconds: 0, trainSeconds: on.seconds, teacherSeconds: 0, teacherPerplexity: coPpl,
    note: `its co-trained teacher ends at perplexity ${f2(coPpl)} (the pretrained one: ${f2(teacherRows[bestName]!.perplexity)}); the student's top-1 agreement with it ${pct(onMetrics.agreement.online!.top1)}, KL ${onMetrics.agreement.online!.kl.toFixed(3)}`,
  };
}
const table2 = [
  `### 2. Offline store vs online vs in-graph frozen teacher`,
  '',
  `Student ${studentConfig.nLayers}×${studentConfig.dModel}, ${studentSteps} steps, alpha 0.5, T 1; teacher: '${bestName}' (pretrained ${teacherSteps} steps in ${s0(teacherSeconds)} s), except online, whose teacher (same architecture) starts from scratch and trains ${studentSteps} steps with the student. ` +
    `Agreement and KL are against the pretrained '${bestName}' teacher. Total = labelling + training (teacher pretraining not included); ` +
    `training s includes compiling and the final evaluation, ms/step is the training steps alone. The CPU is shared: read times with the load column (1-minute load average on ${availableParallelism()} cores when the run started).`,
  '',
  '| method | loss | val perplexity | top-1 agr. teacher | KL(teacher‖·) | labelling s | training s | total s | train ms/step | load |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...Object.entries(s2).map(([k, r]) => {
    const ag = r.agreement[bestName];
    return `| ${k} | ${r.loss} | ${f2(r.perplexity)} | ${ag ? pct(ag.top1) : '–'} | ${ag ? ag.kl.toFixed(3) : '–'} | ${s0(r.labelSeconds)} | ${s0(r.trainSeconds)} | ${s0(r.labelSeconds + r.trainSeconds)} | ${s0(r.msPerStep)} | ${r.load.toFixed(1)} |`;
  }),
  '',
  ...Object.entries(s2).filter(([, r]) => r.note).map(([k, r]) => `- ${k}: ${r.note}`),
  '',
  `Command: \`${command}\``,
].join('\n');
console.log(`\n${table2}\n`);

// ---- 3. born-again ---------------------------------------------------------------------------------
let s3: { generations: (GenerationReport & { steps: number; seconds: number; msPerStep: number; evaluated?: Metrics })[]; seconds: number; load: number };
{
  const r = await run(await context('born-again', {}), { kind: 'bornAgain', generations: 2 }, 'born-again');
  const gens = r.ctx.reports[0]!.details!.generations as GenerationReport[];
  const gen2 = await studentMetrics(r.ctx, teachers);
  s3 = {
    seconds: r.seconds,
    load: r.load,
    generations: gens.map((g) => {
      const st = r.stages[`1-bornAgain/gen-${g.generation}`]!;
      return { ...g, steps: st.steps, seconds: st.lastStep! - st.firstStep!, msPerStep: msPerStep(st), evaluated: g.generation === gens.length ? gen2 : undefined };
    }),
  };
}
const hardPpl = s1['hard labels (no teacher)']!.perplexity;
const table3 = [
  `### 3. Born-again: generation 2 vs generation 1`,
  '',
  `Same architecture (${studentConfig.nLayers}×${studentConfig.dModel}) each generation, ${studentSteps} steps each; generation 1 on hard labels, generation 2 from a fresh initialization (seed + 1) on pure KD from generation 1 (alpha 1, T 1, the bornAgain default). ` +
    `Perplexity is the trainer's final evaluation on the same ${evalTokens} held-out tokens (the hard-label run of section 1 gave ${f2(hardPpl)}).`,
  '',
  '| generation | learns from | val perplexity | next-token accuracy | objective first → last | ms/step |',
  '|---|---|---|---|---|---|',
  ...s3.generations.map((g) => `| ${g.generation} | ${g.generation === 1 ? 'data (CE)' : `generation ${g.generation - 1} (KL)`} | ${f2(g.perplexity!)} | ${pct(g.accuracy!)} | ${g.first.toFixed(3)} → ${g.last.toFixed(3)} | ${s0(g.msPerStep)} |`),
  '',
  `Command: \`${command}\``,
].join('\n');
console.log(`\n${table3}\n`);

// ---- 4. augmentation -------------------------------------------------------------------------------
const s4: Record<string, Row & { generateSeconds: number }> = {};
let augDetails: Record<string, unknown> = {};
{
  const augDir = join(work, 'augment-set');
  const augment = { kind: 'augment' as const, teacher: bestName, dir: augDir, ...AUG };
  // Generation happens once (the set on disk is reused by the second run); its time is the first run's augment stage.
  const withKd = await run(await context('augment-kd', { teachers: [inGraph(best)] }), { kind: 'pipeline', steps: [augment, { kind: 'kd' }] }, 'augment + KD');
  const generateSeconds = withKd.logs.filter((l) => l.line.startsWith('augment:')).at(-1)?.t ?? NaN;
  augDetails = withKd.ctx.reports[0]!.details!;
  const withHard = await run(await context('augment-hard', { teachers: [inGraph(best)] }), { kind: 'pipeline', steps: [augment, { kind: 'hardLabels' }] }, 'augment + hard labels');
  const vs = { [bestName]: best } as Record<string, LocalTeacher>;
  s4['hard labels, no augmentation'] = { ...s1['hard labels (no teacher)']!, generateSeconds: 0 };
  s4[`hard labels + ${AUG.ratio} generated`] = { ...(await studentMetrics(withHard.ctx, vs)), ...timing(withHard), generateSeconds: 0, note: 'generated set reused from the run below' };
  s4[`KD from ${bestName}, no augmentation`] = { ...bestKd, generateSeconds: 0 };
  s4[`KD from ${bestName} + ${AUG.ratio} generated`] = { ...(await studentMetrics(withKd.ctx, vs)), ...timing(withKd), seconds: withKd.seconds - generateSeconds, generateSeconds };
}
const table4 = [
  `### 4. Data augmentation (teacher-generated continuations) vs none`,
  '',
  `Teacher '${bestName}' continues ${AUG.promptTokens}-token prompts from the training text by ${AUG.maxNewTokens} tokens (temperature ${AUG.temperature}, top-p ${AUG.topP}); ` +
    `${augDetails.kept} texts kept of ${augDetails.attempts} (dropped ${JSON.stringify(augDetails.dropped)}), ${augDetails.tokens} tokens; ${AUG.ratio * 100}% of training rows come from them. ` +
    `Student ${studentConfig.nLayers}×${studentConfig.dModel}, ${studentSteps} steps.`,
  '',
  `| run | val perplexity | top-1 agr. ${bestName} | KL(${bestName}‖·) | generation s | training s | ms/step | load |`,
  '|---|---|---|---|---|---|---|---|',
  ...Object.entries(s4).map(([k, r]) => {
    const ag = r.agreement[bestName]!;
    return `| ${k} | ${f2(r.perplexity)} | ${pct(ag.top1)} | ${ag.kl.toFixed(3)} | ${r.generateSeconds ? s0(r.generateSeconds) : '–'} | ${s0(r.seconds)} | ${s0(r.msPerStep)} | ${r.load.toFixed(1)} |`;
  }),
  '',
  `Command: \`${command}\``,
].join('\n');
console.log(`\n${table4}\n`);

// ---- 5. loss balancing ---------------------------------------------------------------------------
// Logit KD and a hidden-state MSE (through a learned projection) sit on different scales; with
// both configured at weight 1, 'auto' divides each by its running mean so each contributes about 1.
const s5: Record<string, Row & { weights: Record<string, number>; terms: Record<string, number> }> = {};
{
  const terms = [{ name: 'kd', loss: { kind: 'logits' as const, alpha: 0.5 } }, { name: 'hid', weight: 1, loss: { kind: 'hidden' as const, metric: 'mse' as const } }];
  for (const [label, balance] of [['logit KD + hidden MSE, weights 1 : 1 fixed', false], ["logit KD + hidden MSE, weights 1 : 1, balance 'auto'", true]] as const) {
    const r = await run(await context(label.replace(/\W+/g, '-'), { teachers: [inGraph(best)], balance }), { kind: 'kd', terms }, label);
    s5[label] = { ...(await studentMetrics(r.ctx, { [bestName]: best })), ...timing(r), weights: r.last!.weights, terms: { kd: r.last!.terms.kd!, hid: r.last!.terms.hid! } };
  }
}
const table6 = [
  `### 5. Loss balancing: fixed weights vs balance 'auto'`,
  '',
  `Teacher '${bestName}' in-graph; terms: logit KD (alpha 0.5, T 1) and hidden-state MSE over a uniform layer map through learned projections, both configured at weight 1. ` +
    `Student ${studentConfig.nLayers}×${studentConfig.dModel}, ${studentSteps} steps. The last step's raw term values and the weights used are from metrics.jsonl.`,
  '',
  `| run | val perplexity | top-1 agr. ${bestName} | KL(${bestName}‖·) | last kd | last hid | weights used (kd, hid) | ms/step |`,
  '|---|---|---|---|---|---|---|---|',
  `| KD from ${bestName} alone (section 1) | ${f2(bestKd.perplexity)} | ${pct(bestKd.agreement[bestName]!.top1)} | ${bestKd.agreement[bestName]!.kl.toFixed(3)} | | | 1 | ${s0(bestKd.msPerStep)} |`,
  ...Object.entries(s5).map(([k, r]) => {
    const ag = r.agreement[bestName]!;
    return `| ${k} | ${f2(r.perplexity)} | ${pct(ag.top1)} | ${ag.kl.toFixed(3)} | ${r.terms.kd!.toFixed(3)} | ${r.terms.hid!.toFixed(3)} | ${r.weights.kd!.toPrecision(3)}, ${r.weights.hid!.toPrecision(3)} | ${s0(r.msPerStep)} |`;
  }),
  '',
  `Command: \`${command}\``,
].join('\n');
console.log(`\n${table6}\n`);

// ---- seed spread ------------------------------------------------------------------------------------
// How far the student's perplexity moves with its seed alone (initialization, data order): the scale
// against which the differences above should be read.
const SPREAD_SEEDS = quick ? [2] : [2, 3];
const spread: Record<string, number[]> = {
  'hard labels': [s1['hard labels (no teacher)']!.perplexity],
  [`KD from ${bestName}`]: [bestKd.perplexity],
};
for (const seed of SPREAD_SEEDS) {
  for (const [label, ts, config] of [['hard labels', [], { kind: 'hardLabels' }], [`KD from ${bestName}`, [inGraph(best)], { kind: 'kd' }]] as const) {
    const ctx = await context(`${label.replace(/\W+/g, '-')}-seed${seed}`, { teachers: [...ts] });
    ctx.settings.seed = seed;
    const r = await run(ctx, config, `${label}, seed ${seed}`);
    spread[label]!.push((await measure(r.ctx.student.model as Gpt2, r.ctx.student.params!, {})).perplexity);
  }
}
const seeds = [SEED, ...SPREAD_SEEDS];
const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
const table5 = [
  `### Seed spread (student seed only; teachers and data fixed)`,
  '',
  `| run | ${seeds.map((x) => `seed ${x}`).join(' | ')} | mean | max − min |`,
  `|---|${seeds.map(() => '---|').join('')}---|---|`,
  ...Object.entries(spread).map(([k, xs]) => `| ${k} | ${xs.map(f2).join(' | ')} | ${f2(mean(xs))} | ${f2(Math.max(...xs) - Math.min(...xs))} |`),
  '',
  `Command: \`${command}\``,
].join('\n');
console.log(`\n${table5}\n`);

const total = since(started);
log(`total ${total.toFixed(0)} s`);
if (a.out) {
  writeFileSync(a.out, JSON.stringify({
    command, totalSeconds: total, corpusSeconds,
    corpus: { train: '1900–1980', trainTokens: train.length, teacherYears: { early: `1900–${SPLIT_YEAR}`, late: `${SPLIT_YEAR + 1}–1980` }, validation: `1990–2016, first ${EVAL_PREFIX} tokens of each address`, evalTokens, vocab: tokenizer.vocabSize },
    settings: { seq: SEQ, batch: BATCH, teacherSteps, studentSteps, teacherLr: TEACHER_LR, studentLr: STUDENT_LR, teacherConfig, studentConfig, teacherParams: new Gpt2(teacherConfig).paramCount(), studentParams: new Gpt2(studentConfig).paramCount(), augment: AUG, offlineTopK: OFFLINE_TOPK },
    teachers: teacherRows, bestTeacher: bestName,
    multiTeacher: s1, offlineOnline: s2, bornAgain: s3, augmentation: { details: augDetails, rows: s4 }, balancing: s5, seedSpread: { seeds, perplexity: spread },
    tables: [table1, table2, table3, table4, table6, table5],
  }, null, 2));
  log(`wrote ${a.out}`);
}
if (!a.keep) rmSync(work, { recursive: true, force: true });
else log(`run folders kept in ${work}`);
