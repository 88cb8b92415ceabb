// Teacher and students side by side on the same held-out batches:
//   quality    LM perplexity / next-token accuracy, or classifier accuracy / macro-F1 (metrics.ts)
//   agreement  top-1 match with the teacher and mean KL(teacher ‖ student) per position
//   size       exact parameter count; bytes of the exported ONNX files (fp32, int8)
//   speed      latency p50/p95 at batch 1 and throughput at a batch size (speed.ts), parameters baked in
//   memory     peak resident memory of a separate process running the ONNX file (memory.ts)
// The result follows evalReportSchema (schema.ts) and is checked against it before it is returned.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnxFileBytes } from '../onnx/index.ts';
import { defaultThreads, hostTensor, type Executor, type HostTensor } from '../runtime/index.ts';
import type { Batch, EvalSource } from '../distill/trainer/index.ts';
import { type ExportedFileRow, scoreExportedFiles } from './exported.ts';
import { fileDims, measurePeakMemory } from './memory.ts';
import { AgreementAccumulator, QualityAccumulator } from './metrics.ts';
import {
  classesOf,
  InferenceProgram,
  paramCount,
  taskOf,
  writeInferenceOnnx,
  type EvalModel,
  type EvalTask,
} from './programs.ts';
import {
  EVAL_SCHEMA,
  EVAL_VERSION,
  evalReportSchema,
  finiteOrNull,
  type EvalReport,
  type ModelEval,
} from './schema.ts';
import { groupRows, LOGIT_BYTES, rowGroups } from './row-groups.ts';
import { takeRows, timeRuns } from './speed.ts';

export interface EvalData {
  /**
   * The held-out batches, the same for every model. LM: input_ids (B, T) and labels (B, T), labels
   * −100 where a position is not scored. Classifier: input_ids (B, T), attention_mask (B, T), labels (B).
   */
  source: EvalSource;
  /** Says what the data is, for the report ('SOTU addresses 1951-1960, 32 windows of 64 tokens'). */
  description: string;
  /** Class names (classifier). */
  labels?: string[];
}

export interface SpeedOptions {
  /** Untimed runs first. Default 3. */
  warmup?: number;
  /** Timed runs per figure. Default 20. */
  runs?: number;
  /**
   * Batch size of the throughput figure. Default: the evaluation batch size, or for a language model
   * the largest group of it whose logits fit `logitBytes`, as the quality pass scores it (at
   * V 151,936 and 512 positions one row's logits are already 311 MB).
   */
  batch?: number;
}

export interface EvaluateOptions {
  teacher: EvalModel;
  /** One student, or several (a distilled student and its baseline, say), each compared with the teacher. */
  student: EvalModel | readonly EvalModel[];
  data: EvalData;
  /** false: no latency or throughput figures. */
  speed?: SpeedOptions | false;
  /** false: no peak-memory figures (they start a process per model). */
  memory?: boolean;
  /** onnxruntime intra-op threads for the speed and memory figures (the quality pass uses the default). Default 1, so figures compare across machines and loads. */
  threads?: number;
  executor?: Executor;
  ignoreIndex?: number;
  /**
   * Most bytes of logits one run may return (language models): a batch is scored a group of rows
   * at a time to stay under it (row-groups.ts). Default LOGIT_BYTES (256 MiB).
   */
  logitBytes?: number;
  /** Called with a line as each stage starts. */
  onProgress?: (line: string) => void;
}

interface Entry {
  em: EvalModel;
  role: 'teacher' | 'student';
  quality: QualityAccumulator;
  agreement: AgreementAccumulator | null;
  programs: Map<string, Promise<InferenceProgram>>;
}

const _shapeKey = (t: HostTensor) => t.shape.join('x');

function fileInfo(
  path: string | undefined,
): { path: string; bytes: number; latencyMs?: { p50: number; p95: number; runs: number } } | null {
  if (!path) return null;
  try {
    return { path, bytes: onnxFileBytes(path) };
  } catch {
    throw new Error(
      `evaluate: ONNX file ${path} does not exist; export the model first (retort export) or leave it out`,
    );
  }
}

export async function evaluate(o: EvaluateOptions): Promise<EvalReport> {
  const students = Array.isArray(o.student) ? [...(o.student as readonly EvalModel[])] : [o.student as EvalModel];
  const all = [o.teacher, ...students];
  const names = new Set<string>();
  for (const m of all) {
    if (names.has(m.name)) throw new Error(`evaluate: two models are named '${m.name}'; give each a unique name`);
    names.add(m.name);
  }
  const task: EvalTask = taskOf(o.teacher.model);
  for (const m of students) {
    if (taskOf(m.model) !== task)
      throw new Error(
        `evaluate: teacher '${o.teacher.name}' is a ${task} model but '${m.name}' is a ${taskOf(m.model)} model; compare models of one kind`,
      );
  }
  const ignore = o.ignoreIndex ?? -100;
  const threads = o.threads ?? 1;
  const classes = classesOf(o.teacher.model);
  const log = o.onProgress ?? (() => {});
  const widest = Math.max(...all.map((m) => classesOf(m.model)));

  const entries: Entry[] = all.map((em, i) => ({
    em,
    role: i === 0 ? 'teacher' : 'student',
    quality: new QualityAccumulator(classesOf(em.model), { confusion: task === 'classifier' }),
    agreement: agreementFor(task, classes, classesOf(em.model)),
    programs: new Map(),
  }));
  const program = (e: Entry, b: number, t: number): Promise<InferenceProgram> => {
    const key = `${b}x${t}`;
    let p = e.programs.get(key);
    if (!p)
      e.programs.set(
        key,
        (p = InferenceProgram.create(e.em, b, t, { executor: o.executor, threads: defaultThreads() })),
      );
    return p;
  };
  const feedsOf = (batch: Record<string, HostTensor>): Record<string, HostTensor> => {
    const ids = batch.input_ids;
    if (ids?.shape.length !== 2) throw new Error('evaluate: each batch needs input_ids (B, T) int64');
    const feeds: Record<string, HostTensor> = { input_ids: ids };
    if (task === 'classifier')
      feeds.attention_mask =
        batch.attention_mask ?? hostTensor('int64', ids.shape, new BigInt64Array(ids.data.length).fill(1n));
    return feeds;
  };

  // Quality and agreement: every model on every batch, the teacher's logits kept for the comparison.
  log(`evaluating ${all.map((m) => m.name).join(', ')} on ${o.data.description}`);
  let batches = 0;
  let first: Record<string, HostTensor> | undefined;
  // Kept for scoring exported files on the same batches (language models with an export folder).
  const kept: Batch[] = [];
  const keep = task === 'lm' && all.some((m) => m.exportDir);
  for (const batch of o.data.source.batches()) {
    if (keep) kept.push(batch);
    const labels = batch.labels;
    if (!labels)
      throw new Error(
        'evaluate: each batch needs labels (LM: (B, T) next-token ids, −100 skipped; classifier: (B) class ids)',
      );
    const feeds = feedsOf(batch);
    first ??= feeds;
    const [b, t] = feeds.input_ids!.shape as [number, number];
    const rows = task === 'lm' ? groupRows(b, t, widest, o.logitBytes) : b;
    for (const group of rowGroups({ ...feeds, labels }, rows)) {
      const { labels: groupLabels, ...groupFeeds } = group;
      let teacherLogits: HostTensor | undefined;
      for (const e of entries) {
        const logits = await (await program(e, rows, t)).logits(groupFeeds);
        e.quality.add(logits.data as Float32Array, groupLabels!.data as BigInt64Array, ignore);
        if (e.role === 'teacher') teacherLogits = logits;
        e.agreement?.add(
          teacherLogits!.data as Float32Array,
          logits.data as Float32Array,
          groupLabels!.data as BigInt64Array,
          ignore,
        );
      }
    }
    batches++;
  }
  if (!first) throw new Error(`evaluate: ${o.data.description} has no batches`);
  const [evalBatch, seq] = first.input_ids!.shape as [number, number];

  const boundedBatch = task === 'lm' ? groupRows(evalBatch, seq, widest, o.logitBytes) : evalBatch;
  const askedBatch = o.speed === false ? undefined : o.speed?.batch;
  const speedOpts =
    o.speed === false
      ? null
      : { warmup: o.speed?.warmup ?? 3, runs: o.speed?.runs ?? 20, batch: askedBatch ?? boundedBatch };
  if (speedOpts && askedBatch === undefined && boundedBatch < evalBatch)
    log(
      `throughput at batch ${boundedBatch}, not ${evalBatch}: a larger batch's logits would pass ${Math.round((o.logitBytes ?? LOGIT_BYTES) / 2 ** 20)} MiB`,
    );
  const rows: ModelEval[] = [];
  let scratch: string | undefined;
  try {
    for (const e of entries) {
      const { em } = e;
      let speed: ModelEval['speed'] = null;
      if (speedOpts) {
        log(
          `timing ${em.name}: ${speedOpts.warmup} warmup + ${speedOpts.runs} runs at batch 1 and at batch ${speedOpts.batch}`,
        );
        const one = await InferenceProgram.create(em, 1, seq, { executor: o.executor, threads });
        const lat = await timeRuns(
          one,
          Object.fromEntries(Object.entries(first).map(([k, v]) => [k, takeRows(v, 1)])),
          speedOpts,
        );
        const many = await InferenceProgram.create(em, speedOpts.batch, seq, { executor: o.executor, threads });
        const thr = await timeRuns(
          many,
          Object.fromEntries(Object.entries(first).map(([k, v]) => [k, takeRows(v, speedOpts.batch)])),
          speedOpts,
        );
        const items = task === 'lm' ? speedOpts.batch * seq : speedOpts.batch;
        speed = {
          latencyMs: { p50: lat.p50, p95: lat.p95, mean: lat.mean, runs: lat.runs },
          throughput: {
            batch: speedOpts.batch,
            perSecond: (items * thr.runs) / (thr.totalMs / 1000),
            unit: task === 'lm' ? 'tokens/s' : 'examples/s',
          },
        };
      }
      let memory: ModelEval['memory'] = null;
      if (o.memory !== false) {
        let file = em.onnx?.fp32;
        if (!file) {
          scratch ??= mkdtempSync(join(tmpdir(), 'retort-eval-'));
          file = join(scratch, `${em.name.replace(/[^\w.-]/g, '_')}.onnx`);
          writeInferenceOnnx(em, seq, file);
        }
        log(`peak memory of ${em.name} (${file})`);
        const m = await measurePeakMemory(file, {
          dims: fileDims(seq),
          vocab: task === 'lm' ? classesOf(em.model) : 2,
          threads,
        });
        memory = {
          peakBytes: m.peakBytes,
          baselineBytes: m.baselineBytes,
          modelBytes: m.peakBytes - m.baselineBytes,
          file: em.onnx?.fp32 ?? '(evaluation graph, temporary file)',
        };
      }
      const files = { fp32: fileInfo(em.onnx?.fp32), int8: fileInfo(em.onnx?.int8) };
      if (speedOpts) {
        // The exported files as a user runs them: plain onnxruntime in a process of its own, batch 1.
        for (const f of [files.fp32, files.int8]) {
          if (!f) continue;
          log(`timing ${f.path}: ${speedOpts.runs} runs at batch 1 in plain onnxruntime`);
          const m = await measurePeakMemory(f.path, {
            dims: fileDims(seq),
            vocab: task === 'lm' ? classesOf(em.model) : 2,
            threads,
            runs: speedOpts.warmup,
            timedRuns: speedOpts.runs,
          });
          if (m.latencyMs) f.latencyMs = m.latencyMs;
        }
      }
      let exports: ExportedFileRow[] | undefined;
      if (em.exportDir && task === 'lm') {
        log(`scoring ${em.name}'s exported files (${em.exportDir}) on the same batches`);
        const c = em.model.config as { nHeads: number; nKvHeads?: number; dModel: number; headDim?: number };
        exports = await scoreExportedFiles(em.exportDir, {
          batches: kept,
          kv: { heads: c.nKvHeads ?? c.nHeads, headDim: c.headDim ?? c.dModel / c.nHeads },
          runs: speedOpts ? Math.min(speedOpts.runs, 10) : 0,
          threads,
          seq,
          vocab: classesOf(em.model),
          logitBytes: o.logitBytes,
          memory: o.memory !== false,
          log,
        });
      }
      const q = e.quality;
      rows.push({
        ...(exports ? { exports } : {}),
        name: em.name,
        role: e.role,
        params: paramCount(em.model),
        files,
        quality: {
          items: q.items,
          accuracy: finiteOrNull(q.accuracy()),
          nll: finiteOrNull(q.meanNll()),
          ...(task === 'lm' ? { perplexity: finiteOrNull(q.perplexity()) } : { macroF1: finiteOrNull(q.macroF1()) }),
        },
        agreement: e.agreement
          ? { items: e.agreement.items, top1: finiteOrNull(e.agreement.top1()), kl: finiteOrNull(e.agreement.meanKl()) }
          : null,
        speed,
        memory,
      });
    }
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }

  const report: EvalReport = {
    schema: EVAL_SCHEMA,
    version: EVAL_VERSION,
    createdAt: new Date().toISOString(),
    task,
    data: { description: o.data.description, batches, seq, ...(o.data.labels ? { labels: o.data.labels } : {}) },
    settings: {
      threads,
      warmup: speedOpts?.warmup ?? 0,
      runs: speedOpts?.runs ?? 0,
      throughputBatch: speedOpts?.batch ?? evalBatch,
    },
    teacher: o.teacher.name,
    models: rows,
  };
  return evalReportSchema.parse(report);
}

/**
 * A classifier agrees with the teacher only over the same labels. Language models may differ in
 * width by padding alone (one tokenizer, embedding tables padded to a multiple of 64): they are
 * compared over the narrower width, as KD cuts them (distill/losses/vocab.ts). `retort eval`
 * refuses students whose tokenizer differs from the teacher's, so ids mean the same tokens there.
 */
function agreementFor(task: EvalTask, teacher: number, student: number): AgreementAccumulator | null {
  if (teacher === student) return new AgreementAccumulator(teacher);
  if (task !== 'lm') return null;
  return new AgreementAccumulator(Math.min(teacher, student), { teacher, student });
}
