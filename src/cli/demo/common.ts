// What both demos share: the output folder, stage headers with timings, and the summary they return.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { evaluate, formatEvalTable, type EvalData, type EvalModel, type EvalReport } from '../../eval/index.ts';
import { writeReport, type ReportSamples } from '../../report/index.ts';
import { UsageError } from '../command.ts';

/** Marks a folder as the demo's own, so a second run may clear it. */
export const DEMO_MARKER = '.retort-demo';

/** Makes `out` ready: created if missing, cleared if an earlier demo wrote it, refused if it holds anything else. */
export function prepareOut(out: string): string {
  const dir = resolve(out);
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER)) {
      throw new UsageError(
        `--out ${dir} is not empty and was not written by retort demo; choose an empty or new folder`,
        'demo',
      );
    }
    for (const e of entries) rmSync(join(dir, e), { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, DEMO_MARKER), 'written by retort demo; the next run into this folder clears it\n');
  return dir;
}

export interface StageTime {
  name: string;
  seconds: number;
}

/** Numbered stage headers ("[2/7] teacher ...") and how long each took. */
export class Stages {
  readonly times: StageTime[] = [];
  private current?: { name: string; t0: number };
  private n = 0;
  private readonly t0 = performance.now();

  constructor(
    private readonly total: number,
    private readonly log: (line: string) => void,
  ) {}

  start(name: string, detail = ''): void {
    this.end();
    this.n++;
    this.current = { name, t0: performance.now() };
    this.log(`\n[${this.n}/${this.total}] ${name}${detail ? `: ${detail}` : ''}`);
  }

  end(): void {
    if (!this.current) return;
    this.times.push({ name: this.current.name, seconds: (performance.now() - this.current.t0) / 1000 });
    this.current = undefined;
  }

  get elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }
}

export interface DemoResult {
  task: 'lm' | 'spam' | 'g2p';
  quick: boolean;
  out: string;
  seconds: number;
  /** Teacher parameters over student parameters. */
  ratio: number;
  params: { teacher: number; student: number };
  stages: StageTime[];
  paths: {
    report: string;
    eval: string;
    /** The exported student: onnx/model.onnx, onnx/model_quantized.onnx, tokenizer.json, config.json. */
    student: string;
    teacher: string;
    baseline: string;
    runs: Record<string, string>;
  };
  eval: EvalReport;
  /** The command that serves the browser demo. */
  web: string;
}

export const fmtSeconds = (s: number): string =>
  s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;

/** Writes demo.json (the result without the eval report, which eval.json holds) and logs the time. */
export function finishDemo(o: {
  task: DemoResult['task'];
  quick: boolean;
  out: string;
  stages: Stages;
  ratio: number;
  params: DemoResult['params'];
  paths: Omit<DemoResult['paths'], 'teacher' | 'baseline'>;
  eval: EvalReport;
  web: string;
  log: (line: string) => void;
}): DemoResult {
  const result: DemoResult = {
    task: o.task,
    quick: o.quick,
    out: o.out,
    seconds: o.stages.elapsed,
    ratio: o.ratio,
    params: o.params,
    stages: o.stages.times,
    paths: { ...o.paths, teacher: join(o.out, 'models', 'teacher'), baseline: join(o.out, 'models', 'baseline') },
    eval: o.eval,
    web: o.web,
  };
  writeFileSync(join(o.out, 'demo.json'), `${JSON.stringify({ ...result, eval: undefined }, null, 2)}\n`);
  o.log(`\ndemo finished in ${fmtSeconds(result.seconds)}`);
  return result;
}

/** The demo's HTML report: the three runs' curves, the evaluation, samples, and where the student is. */
export function writeDemoReport(
  out: string,
  o: {
    title: string;
    summary: string;
    /** metrics.jsonl of each run. */
    runs: { teacher: string; student: string; baseline: string };
    /** How the baseline run is named in the charts, e.g. 'baseline (hard labels)'. */
    baselineLabel: string;
    eval: EvalReport;
    samples: ReportSamples;
    /** More lines for the files-and-next-steps list. */
    facts?: [string, string][];
  },
): { reportPath: string; studentDir: string; web: string } {
  const reportPath = join(out, 'report.html');
  const studentDir = join(out, 'models', 'student');
  const web = `retort web --dir ${studentDir}`;
  writeReport(reportPath, {
    title: o.title,
    summary: o.summary,
    runs: [
      { name: 'teacher', metrics: o.runs.teacher },
      { name: 'student (KD)', metrics: o.runs.student },
      { name: o.baselineLabel, metrics: o.runs.baseline },
    ],
    eval: o.eval,
    samples: o.samples,
    facts: [
      ['student ONNX', join(studentDir, 'onnx', 'model.onnx')],
      ['student int8', join(studentDir, 'onnx', 'model_quantized.onnx')],
      ['browser demo', web],
      ...(o.facts ?? []),
    ],
  });
  return { reportPath, studentDir, web };
}

/** Evaluates the teacher (first) and the students side by side, writes out/eval.json and logs the table. */
export async function evaluateDemo(
  out: string,
  models: EvalModel[],
  data: EvalData,
  speedRuns: number,
  log: (line: string) => void,
): Promise<{ report: EvalReport; evalPath: string }> {
  const report = await evaluate({
    teacher: models[0]!,
    student: models.slice(1),
    data,
    speed: { warmup: 3, runs: speedRuns },
    threads: 1,
    onProgress: log,
  });
  const evalPath = join(out, 'eval.json');
  writeFileSync(evalPath, `${JSON.stringify(report, null, 2)}\n`);
  log('');
  log(formatEvalTable(report));
  return { report, evalPath };
}
