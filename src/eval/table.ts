// The evaluation as a terminal table: one row per model, the teacher first.
import type { EvalReport, ModelEval } from './schema.ts';

const MB = 1024 * 1024;
const dash = '–';

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

const fixed = (x: number | null | undefined, digits: number) =>
  x === null || x === undefined ? dash : x.toFixed(digits);
const pct = (x: number | null | undefined) => (x === null || x === undefined ? dash : `${(100 * x).toFixed(1)}%`);
const mb = (bytes: number | undefined) => (bytes === undefined ? dash : (bytes / MB).toFixed(2));

export interface Column {
  head: string;
  cell: (m: ModelEval, r: EvalReport) => string;
  /** Left-aligned (text) or right-aligned (numbers). */
  left?: boolean;
}

/** Whether any model carries scores of generated answers (ModelEval.task). */
export function hasTaskScores(r: EvalReport): boolean {
  return r.models.some((m) => m.task);
}

/** Generated answers against the references and the teacher's answers (src/data/task/metrics.ts). */
const taskColumns: Column[] = [
  { head: 'exact', cell: (m) => pct(m.task?.exactMatch) },
  { head: 'tok F1', cell: (m) => fixed(m.task?.tokenF1, 3) },
  { head: 'chrF', cell: (m) => fixed(m.task?.chrF, 1) },
  { head: 'PER/WER', cell: (m) => pct(m.task?.tokenErrorRate) },
  { head: 'exact vs t', cell: (m) => pct(m.task?.teacherExact) },
  { head: 'chrF vs t', cell: (m) => fixed(m.task?.teacherChrF, 1) },
  { head: 't logp/tok', cell: (m) => fixed(m.task?.teacherLogprob, 3) },
  { head: 'ms/answer', cell: (m) => fixed(m.task?.latencyMsPerAnswer, 1) },
];

/** What the answer columns measure, and how the answers were generated (one sentence, no markup). */
export function taskNote(r: EvalReport): string {
  const g = r.generation;
  const how = g
    ? ` Generated with maxNewTokens ${g.maxNewTokens}, temperature ${g.temperature}${g.temperature === 0 ? ' (greedy)' : ''}, top-p ${g.topP}, top-k ${g.topK}, seed ${g.seed}.`
    : '';
  return (
    'Answers: exact match and token F1 after normalization (NFKC, lowercase, punctuation to spaces, whitespace collapsed); ' +
    'chrF: corpus chrF2 (character 1..6-grams, sacrebleu defaults); PER/WER: token edit distance over reference tokens (phonemes for g2p, words otherwise); ' +
    `"vs t": the same against '${r.teacher}'s answers; t logp/tok: '${r.teacher}'s mean log-probability per token of the answer, nats; ms/answer: mean generation time.${how}`
  );
}

export function columnsFor(r: EvalReport): Column[] {
  const teacher = r.models.find((m) => m.role === 'teacher');
  const quality: Column[] =
    r.task === 'lm'
      ? [
          { head: 'ppl', cell: (m) => fixed(m.quality.perplexity, 2) },
          { head: 'acc', cell: (m) => pct(m.quality.accuracy) },
        ]
      : [
          { head: 'acc', cell: (m) => pct(m.quality.accuracy) },
          { head: 'macro-F1', cell: (m) => fixed(m.quality.macroF1, 3) },
        ];
  return [
    { head: 'model', cell: (m) => m.name, left: true },
    { head: 'params', cell: (m) => formatCount(m.params) },
    {
      head: 'smaller',
      cell: (m) => (teacher && m.role !== 'teacher' ? `${(teacher.params / m.params).toFixed(1)}×` : dash),
    },
    { head: 'fp32 MB', cell: (m) => mb(m.files.fp32?.bytes) },
    { head: 'int8 MB', cell: (m) => mb(m.files.int8?.bytes) },
    ...quality,
    { head: 'top-1 agree', cell: (m) => pct(m.agreement?.top1) },
    { head: 'KL(t‖s)', cell: (m) => fixed(m.agreement?.kl, 4) },
    ...(hasTaskScores(r) ? taskColumns : []),
    { head: 'p50 ms', cell: (m) => fixed(m.speed?.latencyMs.p50, 2) },
    { head: 'p95 ms', cell: (m) => fixed(m.speed?.latencyMs.p95, 2) },
    { head: 'fp32 file ms', cell: (m) => fixed(m.files.fp32?.latencyMs?.p50, 2) },
    { head: 'int8 file ms', cell: (m) => fixed(m.files.int8?.latencyMs?.p50, 2) },
    {
      head: r.task === 'lm' ? 'tok/s' : 'ex/s',
      cell: (m) => (m.speed ? formatCount(Math.round(m.speed.throughput.perSecond)) : dash),
    },
    { head: 'peak MB', cell: (m) => mb(m.memory?.peakBytes) },
    { head: 'model MB', cell: (m) => mb(m.memory?.modelBytes) },
  ];
}

/** Box-free aligned columns, a rule under the header, and a line saying what the columns measure. */
export function formatEvalTable(r: EvalReport): string {
  const cols = columnsFor(r);
  const cells = r.models.map((m) => cols.map((c) => c.cell(m, r)));
  const widths = cols.map((c, i) => Math.max(c.head.length, ...cells.map((row) => row[i]!.length)));
  const line = (xs: string[]) =>
    xs
      .map((x, i) => (cols[i]!.left ? x.padEnd(widths[i]!) : x.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(cols.map((c) => c.head)), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)];
  const s = r.settings;
  out.push(
    '',
    `${r.data.description}; ${r.task === 'lm' ? 'ppl: per-token perplexity' : 'accuracy and macro-F1 over examples'}; agreement with '${r.teacher}'.`,
    `Latency: batch 1, ${r.data.seq} positions, ${s.runs} runs after ${s.warmup} warmup, ${s.threads} thread(s); throughput at batch ${s.throughputBatch}; file ms: the exported fp32/int8 files in plain onnxruntime, batch 1. Peak: VmHWM of a process running the fp32 ONNX file.`,
  );
  if (hasTaskScores(r)) out.push(taskNote(r));
  for (const m of r.models.filter((x) => x.exports?.length))
    out.push(
      '',
      `${m.name}'s exported files (ONNX in onnxruntime, GGUF in llama.cpp; peak: VmHWM of a process running only that file):`,
      ...exportLines(m.exports!),
      ...m.exports!.filter((x) => x.note).map((x) => `  ${x.file}: ${x.note}`),
    );
  return out.join('\n');
}

type ExportRows = NonNullable<EvalReport['models'][number]['exports']>;

/** The size/quality rows of one model's exported files as cells: file, MB, × fp32, ppl, Δppl, ms. */
export function exportCells(rows: ExportRows): string[][] {
  const fp32 = rows.find((x) => x.format === 'fp32')?.bytes;
  const pct = (x: number | null) => (x === null ? '-' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`);
  return rows.map((x) => [
    x.file,
    (x.bytes / 1e6).toFixed(3),
    fp32 ? `${(x.bytes / fp32).toFixed(2)}×` : '-',
    x.perplexity === null ? '-' : x.perplexity.toFixed(3),
    pct(x.perplexityChange),
    x.latencyMs === null ? '-' : x.latencyMs.toFixed(2),
    x.peakBytes === null ? '-' : (x.peakBytes / 1e6).toFixed(1),
  ]);
}

export const EXPORT_HEADS = ['file', 'MB', 'vs fp32', 'ppl (on the file)', 'Δ ppl', 'batch-1 ms', 'peak MB'];

function exportLines(rows: ExportRows): string[] {
  const cells = [EXPORT_HEADS, ...exportCells(rows)];
  const widths = EXPORT_HEADS.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => `  ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ')}`);
}
