// retort eval --teacher DIR --student DIR...: teacher and students side by side on the same held-out
// data (src/eval): quality, agreement with the teacher, size, latency, peak memory; a table, and the
// versioned JSON with --out or --json.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { loadSotu } from '../../data/sotu.ts';
import { evalWindows, taskEvalBatches } from '../../distill/trainer/index.ts';
import { encodeRecords, readTaskFile } from '../../data/task/index.ts';
import { evaluate, evaluateTask, formatEvalTable, type EvalModel, type TaskModel } from '../../eval/index.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import type { DecoderModel } from '../../models/types.ts';
import { classificationEval, encodeExamples, type LabelledText } from '../../distill/classify/index.ts';
import { readLabelledJsonl } from '../../data/labelled-corpus.ts';
import { SPAM_LABELS, spamSplit } from '../../data/spam-split.ts';
import { UsageError, type CommandContext } from '../command.ts';
import { loadModelDir, type ModelDir } from '../model-dir.ts';

/** The seeded split the spam demo uses: evaluation on its held-out part matches the demo's. */
export const SPAM_SPLIT = { validationFraction: 0.2, seed: 0 };
import type { EvalValues } from './schema.ts';

export async function run({ values, io, json }: CommandContext<EvalValues>) {
  const teacher = loadModelDir('--teacher', values.teacher, 'eval');
  const students = values.student.map((s) => loadModelDir('--student', s, 'eval'));
  const all = [teacher, ...students];
  const names = modelNames(
    all.map((m) => m.dir),
    values.name,
  );
  const tok = teacher.tokenizer;
  if (!tok)
    throw new UsageError(
      `--teacher ${values.teacher}: has no tokenizer.json; the data is tokenized with the teacher's tokenizer`,
      'eval',
    );
  const tokText = readFileSync(join(teacher.dir, 'tokenizer.json'), 'utf8');
  for (const s of students) {
    if (s.loaded.task !== teacher.loaded.task)
      throw new UsageError(
        `--student ${s.dir}: is a ${s.loaded.task} model, the teacher a ${teacher.loaded.task} model; compare models of one kind`,
        'eval',
      );
    if (s.tokenizer && readFileSync(join(s.dir, 'tokenizer.json'), 'utf8') !== tokText) {
      throw new UsageError(
        `--student ${s.dir}: its tokenizer.json differs from the teacher's; agreement and perplexity need one vocabulary (evaluate students of other tokenizers separately)`,
        'eval',
      );
    }
  }
  const log = (l: string) => io.err(l);
  let data;
  let task: Awaited<ReturnType<typeof taskEvaluation>> | undefined;
  if (teacher.loaded.task === 'causal-lm' && values.data.endsWith('.jsonl')) {
    task = await taskEvaluation(
      values,
      tok,
      all.map((m, i) => ({ name: names[i]!, model: m.loaded.model as DecoderModel, params: m.loaded.params })),
      log,
    );
    data = task.data;
  } else if (teacher.loaded.task === 'causal-lm') {
    const maxPositions = (teacher.loaded.model.config as { maxPositions?: number }).maxPositions ?? 1024;
    const seq = values.seq ?? Math.min(64, maxPositions);
    const { text, description } = lmText(values.data, values['after-year']);
    log(`tokenizing ${description}`);
    const ids = Int32Array.from(tok.encode(text.slice(0, (values.batches * values.batch * seq + 1) * 12)));
    if (ids.length < seq + 1)
      throw new UsageError(
        `--data ${values.data}: only ${ids.length} tokens, fewer than one window of --seq ${seq}`,
        'eval',
      );
    data = {
      source: evalWindows(ids, { batch: values.batch, ctx: seq, maxBatches: values.batches }),
      description: `${description}, windows of ${seq} tokens`,
    };
  } else {
    const seq = values.seq ?? Number(teacher.loaded.hfConfig.retort_seq_len ?? 128);
    const n = values.batch * values.batches;
    let held: LabelledText[], labels: string[], what: string;
    if (values.data === 'spam')
      [held, labels, what] = [
        spamSplit(SPAM_SPLIT).validation.slice(0, n),
        [...SPAM_LABELS],
        'held-out SpamAssassin emails',
      ];
    else if (values.data.endsWith('.jsonl')) {
      const file = readLabelledJsonl(values.data);
      // Label ids follow the teacher's label names when it has them, so a file holding only some labels still lines up.
      const names = teacher.loaded.model.config.labels;
      const id = (k: number) => {
        if (!names) return k;
        const at = names.indexOf(file.labels[k]!);
        if (at < 0)
          throw new UsageError(
            `--data ${values.data}: label '${file.labels[k]}' is not one of the teacher's labels (${names.join(', ')})`,
            'eval',
          );
        return at;
      };
      [held, labels, what] = [
        file.items.slice(0, n).map((x) => ({ text: x.text, label: id(x.label) })),
        names ?? file.labels,
        `${values.data}`,
      ];
    } else
      throw new UsageError(
        `--data ${values.data}: classifiers are evaluated on labelled data; use --data spam or a .jsonl file of {"text", "label"} lines`,
        'eval',
      );
    const ex = encodeExamples(held, tok, seq);
    if (ex.n < values.batch)
      throw new UsageError(
        `--data ${values.data}: ${ex.n} labelled texts make no batch of --batch ${values.batch}`,
        'eval',
      );
    data = {
      source: classificationEval(ex, { batch: values.batch, maxBatches: values.batches }),
      description: `${what} (${ex.n - (ex.n % values.batch)} texts), ${seq} tokens each`,
      labels,
    };
  }
  const model = (m: ModelDir, i: number): EvalModel => ({
    name: names[i]!,
    model: m.loaded.model,
    params: m.loaded.params,
    onnx: m.onnx,
    // An exported folder (retort export wrote onnx/ beside the weights): each file gets a size/quality row.
    ...(m.onnx.fp32 ? { exportDir: m.dir } : {}),
  });
  const report = await evaluate({
    teacher: model(teacher, 0),
    student: students.map((s, i) => model(s, i + 1)),
    data,
    speed: values['no-speed'] ? false : { warmup: 3, runs: values.runs },
    memory: !values['no-memory'],
    threads: values.threads,
    onProgress: log,
  });
  if (task) {
    for (const m of report.models) m.task = task.result.scores.get(m.name) ?? null;
    report.generation = task.generation;
    report.examples = task.result.examples;
  }
  if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
  if (!json) {
    io.out(formatEvalTable(report));
    if (values.out) io.out(`\nwrote ${values.out}`);
  }
  return report;
}

/**
 * Held-out task records (prompts with reference answers): perplexity and agreement on the answer
 * tokens, and each model's generated answers scored by evaluateTask.
 */
async function taskEvaluation(values: EvalValues, tok: Tokenizer, models: TaskModel[], log: (l: string) => void) {
  const maxPositions = (models[0]!.model.config as { maxPositions?: number }).maxPositions ?? 1024;
  const seq = values.seq ?? Math.min(128, maxPositions);
  const file = readTaskFile(values.data, { format: 'auto', log });
  const conversations = file.conversations.filter((c) => c.reference !== undefined).slice(0, values.prompts);
  if (conversations.length === 0)
    throw new UsageError(
      `--data ${values.data}: no prompts with reference answers to evaluate on; give each line its answer (completion, or a final assistant turn)`,
      'eval',
    );
  const { examples, counts } = encodeRecords(tok, conversations, { trainOn: 'lastAnswer', seq });
  log(
    `eval: ${conversations.length} prompts with references (${counts.kept} fit ${seq} tokens whole, ${counts.truncated} truncated, ${counts.dropped} too long to score)`,
  );
  const batch = Math.min(values.batch, Math.max(1, examples.length));
  const generation = {
    maxNewTokens: values['max-new-tokens'],
    temperature: values.temperature,
    topP: 1,
    topK: 0,
    seed: 0,
  };
  const result = await evaluateTask({
    models,
    teacher: models[0]!.name,
    tokenizer: tok,
    conversations,
    generation,
    batch: 16,
    examples: values.examples,
    log,
  });
  return {
    data: {
      source: taskEvalBatches(examples, {
        batch,
        seq,
        packed: false,
        padId: tok.padId ?? tok.eosId ?? 0,
        maxBatches: values.batches,
      }),
      description: `${values.data}: answer tokens of ${examples.length} held-out examples`,
    },
    generation,
    result,
  };
}

/** A run's model folder is its `final` or a checkpoint: the run is the folder above. */
const RUN_LEAF = /^(final|ckpt-\d+)$/;

/**
 * Each model's name in the table, in the order given (teacher first): `given` names (--name) first,
 * then its run folder (`kd` for runs/kd/final or runs/kd/ckpt-40, `student` for models/student).
 * Names that clash take more of their path: the leaf they share a run with (kd/ckpt-40 beside
 * kd/final), then the next folder up (a/kd beside b/kd); the same folder twice gets -2, -3.
 */
export function modelNames(dirs: readonly string[], given: readonly string[] = []): string[] {
  if (given.length > dirs.length)
    throw new UsageError(
      `--name: ${given.length} names for ${dirs.length} models (the teacher, then each --student); give at most one per model`,
      'eval',
    );
  const twice = given.find((n, i) => given.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`--name ${twice}: given twice; each model needs its own name`, 'eval');
  const candidates = dirs.map((d) => {
    const parts = resolve(d).split(sep).filter(Boolean);
    const leaf = parts.length > 1 && RUN_LEAF.test(parts.at(-1)!) ? parts.pop()! : undefined;
    const ups = parts.map((_, k) => parts.slice(parts.length - k - 1).join('/'));
    return leaf ? [ups[0]!, `${ups[0]}/${leaf}`, ...ups.slice(1)] : ups;
  });
  const depth = dirs.map(() => 0);
  const name = (i: number) => given[i] ?? candidates[i]![Math.min(depth[i]!, candidates[i]!.length - 1)]!;
  for (let moved = true; moved; ) {
    moved = false;
    const groups = new Map<string, number[]>();
    dirs.forEach((_, i) => groups.set(name(i), [...(groups.get(name(i)) ?? []), i]));
    for (const group of groups.values()) {
      // One folder given twice reads alike at any length: it gets -2 below instead.
      if (new Set(group.map((i) => resolve(dirs[i]!))).size < 2) continue;
      for (const i of group) {
        if (given[i] === undefined && depth[i]! < candidates[i]!.length - 1) [depth[i], moved] = [depth[i]! + 1, true];
      }
    }
  }
  const seen = new Map<string, number>();
  given.forEach((n) => seen.set(n, 1));
  return dirs.map((_, i) => {
    const n = name(i);
    if (given[i] !== undefined) return n;
    const count = (seen.get(n) ?? 0) + 1;
    seen.set(n, count);
    return count === 1 ? n : `${n}-${count}`;
  });
}

function lmText(data: string, afterYear: number): { text: string; description: string } {
  if (data === 'sotu') {
    const held = loadSotu().filter((s) => s.year > afterYear);
    if (held.length === 0) throw new UsageError(`--after-year ${afterYear}: no SOTU addresses after it`, 'eval');
    return {
      text: held.map((s) => s.text).join('\n\n'),
      description: `SOTU addresses ${held[0]!.year}-${held.at(-1)!.year}`,
    };
  }
  if (data === 'spam') {
    const held = spamSplit(SPAM_SPLIT).validation;
    return { text: held.map((e) => e.text).join('\n\n'), description: 'held-out SpamAssassin emails as text' };
  }
  try {
    return { text: readFileSync(data, 'utf8'), description: data };
  } catch {
    throw new UsageError(`--data ${data}: not 'sotu', 'spam', or a readable text file`, 'eval');
  }
}
