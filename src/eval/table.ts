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

const fixed = (x: number | null | undefined, digits: number) => (x === null || x === undefined ? dash : x.toFixed(digits));
const pct = (x: number | null | undefined) => (x === null || x === undefined ? dash : `${(100 * x).toFixed(1)}%`);
const mb = (bytes: number | undefined) => (bytes === undefined ? dash : (bytes / MB).toFixed(2));

export interface Column {
  head: string;
  cell: (m: ModelEval, r: EvalReport) => string;
  /** Left-aligned (text) or right-aligned (numbers). */
  left?: boolean;
}

export function columnsFor(r: EvalReport): Column[] {
  const teacher = r.models.find((m) => m.role === 'teacher');
  const quality: Column[] = r.task === 'lm'
    ? [{ head: 'ppl', cell: (m) => fixed(m.quality.perplexity, 2) }, { head: 'acc', cell: (m) => pct(m.quality.accuracy) }]
    : [{ head: 'acc', cell: (m) => pct(m.quality.accuracy) }, { head: 'macro-F1', cell: (m) => fixed(m.quality.macroF1, 3) }];
  return [
    { head: 'model', cell: (m) => m.name, left: true },
    { head: 'params', cell: (m) => formatCount(m.params) },
    { head: 'smaller', cell: (m) => (teacher && m.role !== 'teacher' ? `${(teacher.params / m.params).toFixed(1)}×` : dash) },
    { head: 'fp32 MB', cell: (m) => mb(m.files.fp32?.bytes) },
    { head: 'int8 MB', cell: (m) => mb(m.files.int8?.bytes) },
    ...quality,
    { head: 'top-1 agree', cell: (m) => pct(m.agreement?.top1) },
    { head: 'KL(t‖s)', cell: (m) => fixed(m.agreement?.kl, 4) },
    { head: 'p50 ms', cell: (m) => fixed(m.speed?.latencyMs.p50, 2) },
    { head: 'p95 ms', cell: (m) => fixed(m.speed?.latencyMs.p95, 2) },
    { head: 'fp32 file ms', cell: (m) => fixed(m.files.fp32?.latencyMs?.p50, 2) },
    { head: 'int8 file ms', cell: (m) => fixed(m.files.int8?.latencyMs?.p50, 2) },
    { head: r.task === 'lm' ? 'tok/s' : 'ex/s', cell: (m) => (m.speed ? formatCount(Math.round(m.speed.throughput.perSecond)) : dash) },
    { head: 'peak MB', cell: (m) => mb(m.memory?.peakBytes) },
    { head: 'model MB', cell: (m) => mb(m.memory?.modelBytes) },
  ];
}

/** Box-free aligned columns, a rule under the header, and a line saying what the columns measure. */
export function formatEvalTable(r: EvalReport): string {
  const cols = columnsFor(r);
  const cells = r.models.map((m) => cols.map((c) => c.cell(m, r)));
  const widths = cols.map((c, i) => Math.max(c.head.length, ...cells.map((row) => row[i]!.length)));
  const line = (xs: string[]) => xs.map((x, i) => (cols[i]!.left ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [line(cols.map((c) => c.head)), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)];
  const s = r.settings;
  out.push(
    '',
    `${r.data.description}; ${r.task === 'lm' ? 'ppl: per-token perplexity' : 'accuracy and macro-F1 over examples'}; agreement with '${r.teacher}'.`,
    `Latency: batch 1, ${r.data.seq} positions, ${s.runs} runs after ${s.warmup} warmup, ${s.threads} thread(s); throughput at batch ${s.throughputBatch}; file ms: the exported fp32/int8 files in plain onnxruntime, batch 1. Peak: VmHWM of a process running the fp32 ONNX file.`,
  );
  return out.join('\n');
}
