// retort train CONFIG: trains a model on the run config's data (next-token cross-entropy), with the
// Trainer's checkpoints, evaluation, early stopping and progress; saves the result as a Hugging Face
// folder (config.json, model.safetensors, tokenizer.json) in {checkpoint.dir}/final.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  configIssue,
  isTaskDataset,
  loadRunConfig,
  modelFromConfig,
  optimizerOf,
  scheduleOf,
  taskDataFromConfig,
  type LoadedRunConfig,
} from '../../distill/config/index.ts';
import { Progress } from '../../distill/progress/index.ts';
import { listCheckpoints } from '../../distill/checkpoint/index.ts';
import { evalWindows, taskBatches, taskEvalBatches, tokenWindows, Trainer } from '../../distill/trainer/index.ts';
import { batchForward } from '../../distill/compose/index.ts';
import type { TaskData } from '../../distill/strategies/index.ts';
import { mul } from '../../graph/index.ts';
import { lmCrossEntropy } from '../../distill/losses/index.ts';
import { familyLabel, saveHfModel } from '../../models/index.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import type { DecoderOutput } from '../../models/types.ts';
import { UsageError, type CommandContext } from '../command.ts';
import { tokenCorpus } from '../../data/corpus.ts';
import { labelledCorpus } from '../../data/labelled-corpus.ts';
import { runClassifier } from './classify.ts';

import type { TrainValues } from './schema.ts';

export async function run({ values, positionals, io, json }: CommandContext<TrainValues>) {
  const file = positionals[0]!;
  const c = loadRunConfig(file);
  const name = file.split('/').at(-1)!;
  // Training on the data alone would quietly ignore the teachers the file names.
  if (c.distill !== undefined) {
    const fields = Object.keys(c.distill);
    throw configIssue(
      name,
      'distill',
      'no distill section (retort train learns from the data alone)',
      `a distill section${fields.length ? ` (${fields.join(', ')})` : ''}`,
      `run retort distill ${file} to learn from its teachers, or remove the distill section to train on the data alone`,
    );
  }
  if (values.steps !== undefined) c.steps = values.steps;
  if (values.seed !== undefined) c.seed = values.seed;
  if (values.dir !== undefined) c.checkpoint.dir = values.dir;
  const dir = c.checkpoint.dir;
  if (!values.resume && listCheckpoints(dir).length > 0) {
    throw new UsageError(
      `${dir} already holds checkpoints; pass --resume to continue that run, or --dir for a new folder`,
      'train',
    );
  }
  const log = (line: string) => io.err(line);
  if (c.task === 'classify') {
    const corpus = labelledCorpus(c.data, { log });
    return runClassifier({
      c,
      file: name,
      io,
      json,
      resume: values.resume,
      corpus,
      plan: { steps: c.steps, teachers: [], dir },
    });
  }
  const task = isTaskDataset(c.data) ? taskDataFromConfig(c.data, { log }) : undefined;
  const corpus = task
    ? { tokenizer: task.tokenizer, train: new Int32Array(0), validation: new Int32Array(0) }
    : tokenCorpus(c.data, { log });
  const { model, params } = modelFromConfig(c, corpus.tokenizer, name);
  log(`model: ${familyLabel(model)}, ${model.paramCount().toLocaleString('en')} parameters`);
  const tokFiles = tokenizerFiles(corpus.tokenizer);
  const trainer = await Trainer.create<DecoderOutput>({
    // Task batches feed attention_mask (and packed position_ids/segment_ids): the model sees its rows' real extent.
    model: (inputs, { train }) => model.forward(inputs.input_ids!, { ...batchForward(inputs), train }),
    loss: (out, inputs, ctx) => {
      const ce = lmCrossEntropy(out, inputs.labels!, { setting: c.lossChunk, grads: ctx.train });
      return { total: mul(ce, ctx.weight('ce')), terms: { ce } };
    },
    predictions: (out, inputs) => ({ logits: out.logits, labels: inputs.labels! }),
    ...(task
      ? taskSources(task.task, c)
      : {
          data: tokenWindows(corpus.train, { batch: c.data.batchSize, ctx: c.data.seqLen, seed: c.seed }),
          evalData:
            corpus.validation.length > c.data.seqLen
              ? evalWindows(corpus.validation, {
                  batch: c.data.batchSize,
                  ctx: c.data.seqLen,
                  maxBatches: c.eval.batches,
                })
              : undefined,
        }),
    runInfo: task && { data: task.task.counts },
    lossWeights: () => ({ ce: 1 }),
    dir,
    steps: c.steps,
    schedule: scheduleOf(c),
    optimizer: optimizerOf(c),
    clipNorm: c.clipNorm,
    balance: c.balance === 'auto' ? { mode: 'auto' } : undefined,
    accumulate: c.accumulate,
    evalEvery: c.eval.every,
    monitor: { metric: c.eval.monitor, mode: c.eval.mode, patience: c.eval.patience, minDelta: c.eval.minDelta },
    checkpoint: { every: c.checkpoint.every, keep: c.checkpoint.keep, extraFiles: tokFiles },
    progress: new Progress(),
    log,
    seed: c.seed,
    threads: c.threads,
    params,
  });
  if (values.resume) {
    // The trainer says "resuming DIR from step N of M (ckpt-N)" when it finds a checkpoint.
    if ((await trainer.resume()) === null) log(`no checkpoint in ${dir} yet: starting from step 0`);
  }
  const summary = await trainer.run();
  const final = join(dir, 'final');
  saveHfModel(final, model, trainer.params, { tokenizer: corpus.tokenizer });
  const result = {
    dir,
    steps: summary.step,
    stoppedEarly: summary.stoppedEarly,
    best: summary.best,
    lastEval: summary.lastEval ?? null,
    metrics: trainer.metricsPath,
    model: final,
    params: model.paramCount(),
  };
  if (!json) {
    io.out(
      `trained ${summary.step} steps${summary.stoppedEarly ? ' (stopped early)' : ''}; ${summary.lastEval?.perplexity !== undefined ? `held-out perplexity ${summary.lastEval.perplexity.toFixed(2)}; ` : ''}model in ${final}`,
    );
    io.out(`next: retort export --model ${final} --out ${join(dir, 'onnx')} --int8`);
  }
  return result;
}

/** Answer-only batches of task examples for training and held-out evaluation. */
function taskSources(task: TaskData, c: LoadedRunConfig<unknown>) {
  const o = { batch: c.data.batchSize, seq: c.data.seqLen, packed: task.packed, padId: task.padId };
  if (task.train.length === 0)
    throw new UsageError(
      `${c.data.dataset}: holds prompts without answers; retort train needs answers (or use retort distill with a teacherAnswers step, so a teacher writes them)`,
      'train',
    );
  return {
    data: taskBatches(task.train, { ...o, seed: c.seed }),
    evalData: task.validation?.length
      ? taskEvalBatches(task.validation, { ...o, maxBatches: c.eval.batches })
      : undefined,
  };
}

/** tokenizer.json and tokenizer_config.json as checkpoint extra files (what Tokenizer.save writes). */
export function tokenizerFiles(tok: Tokenizer): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'retort-tok-'));
  try {
    tok.save(dir);
    const out: Record<string, string> = {};
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      if (existsSync(join(dir, f))) out[f] = readFileSync(join(dir, f), 'utf8');
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
