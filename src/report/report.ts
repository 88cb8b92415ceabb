// One self-contained HTML file about a distillation run: training curves of every loss term (from
// each run's metrics.jsonl), validation metrics over steps, the teacher-vs-student table, size
// against quality across the models, exact match of generated answers with held-out prompts side by
// side (when the evaluation has task scores and examples), and sample generations (or predictions).
// Chart.js is inlined from node_modules, the data is embedded as JSON: the file opens offline.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MetricsLog, type MetricsRecord } from '../distill/trainer/index.ts';
import {
  columnsFor,
  EXPORT_HEADS,
  exactMatch,
  exportCells,
  hasTaskScores,
  taskNote,
  type EvalReport,
} from '../eval/index.ts';

export interface ReportRun {
  /** 'teacher', 'student (KD)', 'baseline (hard labels)', ... */
  name: string;
  /** The run's metrics.jsonl, or its records. */
  metrics: string | readonly MetricsRecord[];
}

/** A prompt and each model's continuation. */
export interface GenerationSample {
  prompt: string;
  outputs: Record<string, string>;
}

/** An input, its true label, and each model's prediction. */
export interface PredictionSample {
  text: string;
  label: string;
  predictions: Record<string, { label: string; confidence: number }>;
}

export type ReportSamples =
  | { kind: 'generation'; items: GenerationSample[] }
  | { kind: 'prediction'; items: PredictionSample[] };

export interface ReportInput {
  title: string;
  /** A paragraph under the title: what was trained on what. */
  summary?: string;
  runs: readonly ReportRun[];
  eval?: EvalReport;
  samples?: ReportSamples;
  /** Label → value lines at the end (files written, commands to run next). */
  facts?: ReadonlyArray<readonly [string, string]>;
}

interface StepPoint {
  step: number;
  loss: number;
  terms: Record<string, number>;
}
interface EvalPoint {
  step: number;
  loss: number;
  accuracy?: number;
  perplexity?: number;
}
interface RunData {
  name: string;
  steps: StepPoint[];
  evals: EvalPoint[];
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Step and eval records of one run, in order; non-finite values dropped (a chart cannot draw them). */
export function runData(run: ReportRun): RunData {
  const records = typeof run.metrics === 'string' ? MetricsLog.read(run.metrics) : run.metrics;
  const steps: StepPoint[] = [];
  const evals: EvalPoint[] = [];
  for (const r of records) {
    if (r.type === 'step' && finite(r.loss)) {
      const terms = Object.fromEntries(
        Object.entries((r.terms as Record<string, unknown>) ?? {}).filter(([, v]) => finite(v)),
      ) as Record<string, number>;
      steps.push({ step: r.step, loss: r.loss, terms });
    } else if (r.type === 'eval' && finite(r.loss)) {
      evals.push({
        step: r.step,
        loss: r.loss,
        ...(finite(r.accuracy) && { accuracy: r.accuracy }),
        ...(finite(r.perplexity) && { perplexity: r.perplexity }),
      });
    }
  }
  return { name: run.name, steps, evals };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** JSON that is safe inside a <script> element. */
const scriptJson = (v: unknown) =>
  JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
const scriptText = (s: string) => s.replace(/<\/script/gi, '<\\/script');

let chartJs: string | undefined;
/** Chart.js's UMD build, read from the installed package. */
export function chartJsSource(): string {
  if (chartJs === undefined) {
    const require = createRequire(import.meta.url);
    let path: string;
    try {
      // The package's exports map hides dist/chart.umd.js; its main entry sits beside it.
      path = join(dirname(require.resolve('chart.js')), 'chart.umd.js');
    } catch {
      throw new Error("report: the npm package 'chart.js' is not installed; run npm install");
    }
    chartJs = readFileSync(path, 'utf8');
  }
  return chartJs;
}

/** Each model's exported files (retort export --formats): size, perplexity on the file itself, batch-1 latency. */
function exportTables(r: EvalReport): string {
  return r.models
    .filter((m) => m.exports?.length)
    .map((m) => {
      const head = EXPORT_HEADS.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
      const body = exportCells(m.exports!)
        .map(
          (row) =>
            `<tr>${row.map((c, i) => `<td class="${i === 0 ? 'text' : 'num'}">${escapeHtml(c)}</td>`).join('')}</tr>`,
        )
        .join('\n');
      return `<h3>${escapeHtml(m.name)}</h3><div class="wide"><table class="eval exports"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
    })
    .join('\n');
}

function evalTable(r: EvalReport): string {
  const cols = columnsFor(r);
  const head = cols.map((c) => `<th>${escapeHtml(c.head)}</th>`).join('');
  const body = r.models
    .map(
      (m) =>
        `<tr class="${m.role}">${cols.map((c) => `<td class="${c.left ? 'text' : 'num'}">${escapeHtml(c.cell(m, r))}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<div class="wide"><table class="eval"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>
<p class="note">${escapeHtml(r.data.description)}. Agreement: top-1 match with '${escapeHtml(r.teacher)}' and mean KL(teacher‖model) per position.
Latency at batch 1 over ${r.data.seq} positions (${r.settings.runs} runs after ${r.settings.warmup} warmup, ${r.settings.threads} thread(s)); throughput at batch ${r.settings.throughputBatch}.
Peak memory: VmHWM of a separate process running the fp32 ONNX file; "model MB" is that minus the same process before loading the model.</p>${
    hasTaskScores(r) ? `\n<p class="note">${escapeHtml(taskNote(r))}</p>` : ''
  }`;
}

/**
 * Held-out prompts, the reference, then each model's answer in the models' order (names found only in
 * the answers after them). An answer that is not an exact match of the reference (after
 * normalizeAnswer, as the exact-match column counts it) has the class "wrong", one that is "right".
 */
function examplesHtml(r: EvalReport): string {
  const examples = r.examples ?? [];
  const names = [
    ...new Set([...r.models.map((m) => m.name), ...examples.flatMap((e) => Object.keys(e.answers))]),
  ].filter((n) => examples.some((e) => n in e.answers));
  const rows = examples
    .map((e) => {
      const cells = names.map((n) => {
        const a = e.answers[n];
        if (a === undefined) return '<td class="answer missing"></td>';
        if (e.reference === null) return `<td class="answer">${escapeHtml(a)}</td>`;
        const ok = exactMatch(a, e.reference) === 1;
        return `<td class="answer ${ok ? 'right' : 'wrong'}"${ok ? '' : ' title="differs from the reference"'}>${escapeHtml(a)}</td>`;
      });
      return `<tr><td class="prompt">${escapeHtml(e.prompt)}</td><td class="reference">${e.reference === null ? '' : escapeHtml(e.reference)}</td>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<table class="examples"><thead><tr><th>prompt</th><th>reference</th>${names.map((n) => `<th>${escapeHtml(n)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>
<p class="note">Answers in red differ from the reference after normalization (NFKC, lowercase, punctuation to spaces, whitespace collapsed).</p>`;
}

function samplesHtml(s: ReportSamples, order: readonly string[]): string {
  if (s.kind === 'generation') {
    const names = order.filter((n) => s.items.some((i) => n in i.outputs));
    const rows = s.items
      .map(
        (i) =>
          `<tr><td class="prompt">${escapeHtml(i.prompt)}</td>${names.map((n) => `<td class="gen">${escapeHtml(i.outputs[n] ?? '')}</td>`).join('')}</tr>`,
      )
      .join('\n');
    return `<table class="samples"><thead><tr><th>prompt</th>${names.map((n) => `<th>${escapeHtml(n)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
  }
  const names = order.filter((n) => s.items.some((i) => n in i.predictions));
  const rows = s.items
    .map((i) => {
      const cells = names.map((n) => {
        const p = i.predictions[n];
        if (!p) return '<td></td>';
        return `<td class="${p.label === i.label ? 'right' : 'wrong'}">${escapeHtml(p.label)} (${(100 * p.confidence).toFixed(0)}%)</td>`;
      });
      return `<tr><td class="prompt">${escapeHtml(i.text)}</td><td>${escapeHtml(i.label)}</td>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<table class="samples"><thead><tr><th>text</th><th>label</th>${names.map((n) => `<th>${escapeHtml(n)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1.2rem; }
.chart { position: relative; height: 320px; border: 1px solid #eee; border-radius: 6px; padding: 0.5rem; }
table { border-collapse: collapse; font-size: 0.9rem; } th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #eee; vertical-align: top; }
th { text-align: left; background: #f6f6f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.teacher td { background: #fbf7ee; } .note { color: #666; font-size: 0.85rem; max-width: 70rem; }
td.prompt { max-width: 18rem; color: #555; } td.gen { white-space: pre-wrap; max-width: 22rem; font-family: ui-monospace, monospace; font-size: 0.8rem; }
td.right { color: #1a7f37; } td.wrong { color: #b42318; } dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; } dt { font-weight: 600; } dd { margin: 0; font-family: ui-monospace, monospace; }
.wide { overflow-x: auto; } td.answer, td.reference { white-space: pre-wrap; max-width: 22rem; font-family: ui-monospace, monospace; font-size: 0.8rem; } td.answer.wrong { background: #fdecea; }
`;

export function renderReport(input: ReportInput): string {
  const runs = input.runs.map(runData);
  const task = input.eval?.task ?? 'lm';
  const charts: string[] = [];
  runs.forEach(
    (r, i) =>
      r.steps.length > 0 &&
      charts.push(
        `<div class="chart"><canvas id="chart-loss-${i}" aria-label="${escapeHtml(r.name)} training loss"></canvas></div>`,
      ),
  );
  const lossCharts = charts.splice(0);
  if (runs.some((r) => r.evals.some((e) => e.accuracy !== undefined)))
    charts.push('<div class="chart"><canvas id="chart-val-accuracy" aria-label="validation accuracy"></canvas></div>');
  if (runs.some((r) => r.evals.some((e) => e.perplexity !== undefined)))
    charts.push(
      '<div class="chart"><canvas id="chart-val-perplexity" aria-label="validation perplexity"></canvas></div>',
    );
  const valCharts = charts.splice(0);
  const sections: string[] = [];
  if (lossCharts.length) sections.push(`<h2>Training curves</h2><div class="charts">${lossCharts.join('\n')}</div>`);
  if (valCharts.length)
    sections.push(`<h2>Validation over steps</h2><div class="charts">${valCharts.join('\n')}</div>`);
  if (input.eval) {
    sections.push(`<h2>Teacher and students</h2>${evalTable(input.eval)}`);
    const exported = exportTables(input.eval);
    if (exported) sections.push(`<h2>Exported files: size against quality</h2>${exported}`);
    sections.push(
      `<h2>Size against quality</h2><div class="charts"><div class="chart"><canvas id="chart-size-quality" aria-label="size against quality"></canvas></div></div>`,
    );
    const answers: string[] = [];
    if (hasTaskScores(input.eval))
      answers.push(
        '<div class="charts"><div class="chart"><canvas id="chart-exact-match" aria-label="exact match per model"></canvas></div></div>',
      );
    if (input.eval.examples?.length) answers.push(examplesHtml(input.eval));
    if (answers.length) sections.push(`<h2>Answers to held-out prompts</h2>${answers.join('\n')}`);
  }
  if (input.samples && input.samples.items.length > 0) {
    const order = input.eval?.models.map((m) => m.name) ?? [
      ...new Set(
        input.samples.kind === 'generation'
          ? input.samples.items.flatMap((i) => Object.keys(i.outputs))
          : input.samples.items.flatMap((i) => Object.keys(i.predictions)),
      ),
    ];
    sections.push(
      `<h2>${input.samples.kind === 'generation' ? 'Sample generations (greedy)' : 'Sample predictions'}</h2>${samplesHtml(input.samples, order)}`,
    );
  }
  if (input.facts?.length)
    sections.push(
      `<h2>Files and next steps</h2><dl>${input.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`,
    );

  const data = { title: input.title, task, runs, eval: input.eval ?? null };
  const client = readFileSync(new URL('./client.js', import.meta.url), 'utf8');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="retort">
<title>${escapeHtml(input.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(input.title)}</h1>
${input.summary ? `<p>${escapeHtml(input.summary)}</p>` : ''}
${sections.join('\n')}
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${scriptText(chartJsSource())}</script>
<script>${scriptText(client)}</script>
</body>
</html>
`;
}

/** Writes the report to `path` (folders created); returns the path. */
export function writeReport(path: string, input: ReportInput): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderReport(input));
  return path;
}
