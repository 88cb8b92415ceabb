// The one training loop every strategy uses: an objective (traced on the batch inputs) becomes a
// Trainer over the run's data, with the run's transforms (on-policy generation) and the fed
// teachers' outputs prepared before each step, loss-term weights fed per step, evaluation on the
// held-out text, and resume from the step's own folder when it already holds checkpoints.
import type { Tensor } from '../../graph/index.ts';
import type { DecoderModel } from '../../models/types.ts';
import { hostTensor, ParamStore, type HostTensor } from '../../runtime/index.ts';
import {
  evalWindows,
  taskEvalBatches,
  Trainer,
  type Batch,
  type DataSource,
  type EvalResult,
  type EvalSource,
  type RunSummary,
  type StepRecord,
} from '../trainer/index.ts';
import { PreparedSource, prepareEval, type BatchInfo, type BatchTransform } from './batches.ts';
import type { DistillContext, RunSettings, StageInfo } from './context.ts';

export interface JobObjective {
  total: Tensor;
  /** Named scalars logged every step; those without a '/' are the weighted terms. */
  terms: Record<string, Tensor>;
  /** Student logits and labels for evaluation accuracy and perplexity. */
  predictions: { logits: Tensor; labels: Tensor };
  /** Fed teachers' inputs for a batch of ids (compose's teacherFeeds). */
  feeds?: (ids: HostTensor) => Promise<Record<string, HostTensor>>;
}

export interface TrainJob {
  stage: StageInfo;
  /** Traces the objective: called once for the training graph (train: true, dropout on) and once for evaluation. */
  objective: (mode: { train: boolean }) => JobObjective;
  /** The model whose parameters (unprefixed names) the job trains: on-policy generation samples from it. */
  student: DecoderModel;
  /** Starting values: the student's, frozen teachers', ... (missing ones are initialized from the seed). */
  params: ParamStore;
  trainable?: (name: string) => boolean;
  /** Which parameters checkpoints hold; default the trainable ones. */
  saveParam?: (name: string) => boolean;
  /** Default: the run's source (ctx.source). */
  data?: DataSource;
  /** Default: the run's transforms. */
  transforms?: readonly BatchTransform[];
  /** Weight of term `name` at 0-based step `step`; default 1. */
  weight?: (name: string, step: number) => number;
  /** Default: the run's steps. */
  steps?: number;
  /** Default: the run's schedule. */
  schedule?: RunSettings['schedule'];
  /** Seeds initialization, data order and dropout; default the run's seed. */
  seed?: number;
  /** What the job was configured with: hashed into its checkpoints, so a resume under another configuration is refused. */
  config: unknown;
}

export interface JobResult {
  trainer: Trainer<JobObjective>;
  summary: RunSummary;
  eval?: EvalResult;
  /** The steps this call ran (a resumed run: only those after the checkpoint). */
  history: StepRecord[];
}

/** Copies of the values of `names` (a trainer reuses its buffers; a copy outlives the run). */
export function copyParams(
  from: ParamStore,
  names: Iterable<string>,
  rename: (n: string) => string = (n) => n,
): ParamStore {
  const out = new ParamStore();
  for (const n of names) {
    const v = from.get(n);
    out.set(rename(n), hostTensor(v.dtype, v.shape, v.data.slice() as never));
  }
  return out;
}

/** The held-out batches of the run, if it has validation text. */
export function heldOut(ctx: DistillContext): EvalSource | undefined {
  const { batch, seq } = ctx.settings;
  const task = ctx.data.task;
  if (task) {
    if (!task.validation?.length) return undefined;
    return taskEvalBatches(task.validation, {
      batch,
      seq,
      packed: task.packed,
      padId: task.padId,
      maxBatches: ctx.settings.evalBatches ?? 8,
    });
  }
  const v = ctx.data.validation;
  if (!v) return undefined;
  return evalWindows(v, { batch, ctx: seq, maxBatches: ctx.settings.evalBatches ?? 8 });
}

export async function trainJob(ctx: DistillContext, job: TrainJob): Promise<JobResult> {
  const s = ctx.settings;
  const steps = job.steps ?? s.steps;
  const seed = job.seed ?? s.seed;
  const schedule = job.schedule ?? s.schedule;
  const k = s.accumulate ?? 1;
  let trained: JobObjective | undefined;
  let trainer: Trainer<JobObjective> | undefined;
  const history: StepRecord[] = [];

  const transforms = [...(job.transforms ?? ctx.transforms)];
  const info = (index: number): BatchInfo => ({
    index,
    stage: job.stage.name,
    student: { model: job.student, params: trainer!.params },
    executor: s.executor,
  });
  const prepared = new PreparedSource(
    job.data ?? ctx.source({ batch: s.batch, seq: s.seq, seed }),
    async (raw, index) => {
      let b: Batch = raw;
      for (const t of transforms) b = await t(b, info(index));
      ctx.hooks.onBatch?.({
        stage: job.stage.name,
        index,
        origin: b.input_ids === raw.input_ids ? 'data' : 'student',
        batch: b,
      });
      if (trained?.feeds) b = { ...b, ...(await trained.feeds(b.input_ids!)) };
      return b;
    },
  );
  const evalSource = heldOut(ctx);
  // Fed teachers' outputs for the held-out batches are added once the objective (which feeds them) is traced.
  let evalBatches: Batch[] | undefined;
  const evalData: EvalSource | undefined = evalSource && {
    inputs: evalSource.inputs,
    batches: () => evalBatches ?? evalSource.batches(),
  };

  trainer = await Trainer.create<JobObjective>({
    model: (_inputs, mode) => {
      const o = job.objective(mode);
      if (mode.train) trained = o;
      return o;
    },
    loss: (o) => ({ total: o.total, terms: o.terms }),
    predictions: (o) => o.predictions,
    data: prepared,
    evalData,
    dir: job.stage.dir,
    steps,
    schedule: { ...schedule, totalSteps: steps },
    optimizer: s.optimizer,
    clipNorm: s.clipNorm,
    balance: s.balance,
    accumulate: k,
    lossWeights: (step) => Object.fromEntries(trainer!.weightNames.map((n) => [n, job.weight?.(n, step) ?? 1])),
    evalEvery: s.evalEvery,
    monitor: s.monitor,
    checkpoint: s.checkpoint ?? { every: 0, keep: 1 },
    progress: s.progress ?? false,
    log: ctx.hooks.log,
    onEvent: async (e) => {
      if (e.type === 'step') history.push(e.record);
      await ctx.hooks.onTrainerEvent?.(job.stage.name, e);
      if (e.type === 'step' && e.record.step < steps) await prepared.prepare(k);
    },
    saveParam: job.saveParam,
    runInfo: ctx.data.task?.counts && { data: ctx.data.task.counts },
    config: {
      job: job.config,
      steps,
      seed,
      optimizer: s.optimizer,
      schedule,
      clipNorm: s.clipNorm ?? null,
      ...(s.balance?.mode === 'auto' ? { balance: s.balance } : {}),
      accumulate: k,
      batch: s.batch,
      seq: s.seq,
    },
    seed,
    threads: s.threads,
    executor: s.executor,
    params: job.params,
    trainable: job.trainable,
  });
  if (trained === undefined) throw new Error('trainJob: the objective was not traced');
  if (evalSource && trained.feeds) {
    const feeds = trained.feeds;
    evalBatches = [
      ...(await prepareEval(evalSource, async (b) => ({ ...b, ...(await feeds(b.input_ids!)) }))).batches(),
    ];
  }

  await trainer.resume();
  if (trainer.step < steps) await prepared.prepare(k);
  const summary = await trainer.run();
  const evaluated = evalSource
    ? summary.lastEval?.step === trainer.step
      ? summary.lastEval
      : await trainer.evaluate()
    : undefined;
  return { trainer, summary, eval: evaluated, history };
}
