// The training loop around TrainStep: batches from a resumable data source, learning-rate schedule,
// loss-term weights fed as scalar inputs (changing them never recompiles), gradient accumulation,
// periodic evaluation, best-checkpoint keeping and early stopping, atomic checkpoints that resume
// bit for bit, a JSONL record of every step and evaluation, and a progress display.
//
// Step numbers: "step s" is the s-th optimizer update (1-based); ckpt-s holds the state after it,
// and a run resumed from ckpt-s runs step s+1 next, on the batch the uninterrupted run would have read.
import { existsSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { input, type Tensor } from '../../graph/index.ts';
import { lrAt, NonFiniteLossError, TrainStep, type OptimizerConfig, type Schedule } from '../../optim/index.ts';
import {
  defaultExecutor,
  hostTensor,
  ParamStore,
  type Executor,
  type HostTensor,
  type Program,
} from '../../runtime/index.ts';
import {
  canonicalJson,
  configHash,
  listCheckpoints,
  loadCheckpoint,
  resolveCheckpoint,
  saveCheckpoint,
  type EvalMark,
  type Json,
} from '../checkpoint/index.ts';
import { RunningScale, type RunningScaleState } from '../losses/index.ts';
import { Progress } from '../progress/index.ts';
import type { Batch, BatchStream, DataSource, EvalSource, InputSpec } from './data.ts';
import { Monitor, type MonitorOptions, type MonitorState } from './early-stopping.ts';
import { EvalAccumulator, evalOutputs, metricOf, type EvalResult } from './evaluate.ts';
import { MetricsLog } from './metrics-log.ts';

/** What a loss builder returns: the scalar to minimize and its named parts (logged each step). */
export interface LossTerms {
  total: Tensor;
  terms: Record<string, Tensor>;
}

export interface LossContext {
  /** Whether this is the training graph (else the evaluation graph). */
  train: boolean;
  /** The scalar input `loss.weight.{name}`, fed every step from `lossWeights`. */
  weight(name: string): Tensor;
}

/** Traced model outputs and the batch's symbolic inputs → the objective. */
export type LossBuilder<O> = (outputs: O, inputs: Record<string, Tensor>, ctx: LossContext) => LossTerms;

/** Inputs named with this prefix are loss-term weights: scalars the trainer feeds every step. */
export const LOSS_WEIGHT_PREFIX = 'loss.weight.';

export interface CheckpointOptions {
  /** Save every this many steps (and at the end, at an early stop, and at each new best evaluation). 0: only those. */
  every: number;
  /** Keep the last this many checkpoints, plus the best. 0 keeps all. */
  keep: number;
  /** More files for every checkpoint folder (config.json, tokenizer.json, ...). */
  extraFiles?: Readonly<Record<string, string | Uint8Array>>;
}

export interface BalanceOptions {
  mode: 'fixed' | 'auto';
  /** EMA decay of the running means. Default 0.99. */
  emaDecay?: number;
  /** Floor of a running mean before it divides. Default 1e-8. */
  eps?: number;
}

export interface TrainerOptions<O> {
  /** Traces the model on the batch's symbolic inputs; called once for the training graph (train: dropout on) and once for evaluation. */
  model: (inputs: Record<string, Tensor>, mode: { train: boolean }) => O;
  loss: LossBuilder<O>;
  /** Logits (..., V) and int64 labels (...) for evaluation accuracy and perplexity; omit when the objective has none. */
  predictions?: (outputs: O, inputs: Record<string, Tensor>) => { logits: Tensor; labels: Tensor };
  data: DataSource;
  evalData?: EvalSource;
  /** Run folder: ckpt-{step}/, `latest`, `best` and metrics.jsonl. */
  dir: string;
  /** Optimizer steps of the whole run. */
  steps: number;
  schedule: Schedule;
  optimizer: OptimizerConfig;
  clipNorm?: number;
  /** Micro-batches per optimizer step (gradient accumulation). Default 1. */
  accumulate?: number;
  /** Values of the loss-term weights for a step (0-based index of the update about to run). Default: none. */
  lossWeights?: (step: number) => Record<string, number>;
  /**
   * 'auto': each term's weight from `lossWeights` is divided by the running mean of the term's |value|
   * (bias-corrected EMA), so terms of very different scales each contribute about their given weight.
   * The weights used are in every step record and metrics line; the running means are checkpointed.
   */
  balance?: BalanceOptions;
  /** Evaluate every this many steps and at the end; 0 or absent with evalData: only at the end. */
  evalEvery?: number;
  /** Which evaluation metric picks the best checkpoint, and early stopping (patience) on it. */
  monitor?: MonitorOptions;
  /** Default: every 1000 steps, keep 3. */
  checkpoint?: CheckpointOptions;
  /** Progress display; default one on stderr. false for none. */
  progress?: Progress | false;
  /** Lines about the run itself (resuming from a checkpoint); default the progress display's message line. */
  log?: (line: string) => void;
  /** Called after each step, evaluation and checkpoint (a throw here stops the run where it is). */
  onEvent?: (e: TrainerEvent) => void | Promise<void>;
  /** Which parameters checkpoints hold. Default: the trainable ones (frozen ones, a teacher's, come from `params` again on resume). */
  saveParam?: (name: string) => boolean;
  /** The run's configuration, hashed into each checkpoint; resuming under a different one is refused. Default: the optimizer, schedule, data shapes and seed. */
  config?: unknown;
  /** Facts about the run for metrics.jsonl's start record (e.g. the task data's kept, truncated and dropped example counts). */
  runInfo?: Record<string, unknown>;
  seed?: number;
  threads?: number;
  executor?: Executor;
  params?: ParamStore;
  trainable?: (name: string) => boolean;
  decay?: (name: string, p: Tensor) => boolean;
}

export interface StepRecord {
  step: number;
  loss: number;
  terms: Record<string, number>;
  gradNorm: number;
  lr: number;
  weights: Record<string, number>;
  /** Wall time of the update, in ms. */
  ms: number;
}

export type TrainerEvent =
  | { type: 'step'; record: StepRecord }
  | { type: 'eval'; result: EvalResult; best: boolean }
  | { type: 'checkpoint'; step: number; path: string; best: boolean };

export interface RunSummary {
  /** Steps completed. */
  step: number;
  stoppedEarly: boolean;
  best: EvalMark | null;
  lastEval?: EvalResult;
  lastCheckpoint?: string;
}

export interface ResumeOptions {
  /** Resume even though the configuration hash differs (a deliberate change, e.g. more steps). */
  allowConfigChange?: boolean;
}

/** A NaN or infinite loss: the run stops, and the message says where to resume from. */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
  constructor(
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
    /** The last checkpoint written before the bad step, if any. */
    readonly lastCheckpoint: string | undefined,
  ) {
    const where = lastCheckpoint
      ? `The last good checkpoint is ${lastCheckpoint}: resume from it with a lower learning rate, gradient clipping (clipNorm), or after checking the data near this step.`
      : 'No checkpoint was saved before this step: restart with a lower learning rate or gradient clipping (clipNorm), and checkpoint more often.';
    super(
      `training diverged at step ${step}: the loss is ${loss} (gradient norm ${gradNorm}); this step's update was not applied and the run stopped. ${where}`,
    );
  }
}

interface TrainerSavedState {
  monitor: MonitorState;
  /** Running term means of 'auto' balancing. */
  balance?: RunningScaleState;
}

function leaves(specs: Readonly<Record<string, InputSpec>>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(specs).map(([name, s]) => [name, input(name, s.shape, s.dtype)]));
}

function lossContext(train: boolean): LossContext {
  const made = new Map<string, Tensor>();
  return {
    train,
    weight(name) {
      let t = made.get(name);
      if (!t) made.set(name, (t = input(`${LOSS_WEIGHT_PREFIX}${name}`, [], 'float32')));
      return t;
    },
  };
}

const scalar = (t: HostTensor): number => Number(t.data[0]);

function positiveInt(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`Trainer: ${what} must be a positive integer, got ${v}`);
}
function nonNegativeInt(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`Trainer: ${what} must be a non-negative integer, got ${v}`);
}

export class Trainer<O = unknown> {
  private stream: BatchStream;
  private resumed = false;
  private lastCheckpoint?: string;
  private readonly metrics: MetricsLog;
  private readonly progress?: Progress;
  private readonly monitor: Monitor;
  private readonly checkpointing: CheckpointOptions;
  /** 'auto' balancing's running term means; undefined for fixed weights. */
  private readonly balance?: RunningScale;

  private constructor(
    private readonly o: TrainerOptions<O>,
    readonly trainStep: TrainStep,
    private readonly evalProgram: Program | undefined,
    /** Names of the loss-term weights the graphs read (without the prefix). */
    readonly weightNames: readonly string[],
    readonly configHash: string,
  ) {
    this.stream = o.data.open();
    this.metrics = new MetricsLog(join(o.dir, 'metrics.jsonl'));
    this.progress = o.progress === false ? undefined : (o.progress ?? new Progress());
    this.monitor = new Monitor(o.monitor);
    this.checkpointing = o.checkpoint ?? { every: 1000, keep: 3 };
    if (o.balance?.mode === 'auto') this.balance = new RunningScale(o.balance.emaDecay ?? 0.99, o.balance.eps ?? 1e-8);
  }

  /** Traces and compiles the training program (and the evaluation program), and initializes parameters. */
  static async create<O>(o: TrainerOptions<O>): Promise<Trainer<O>> {
    positiveInt('steps', o.steps);
    positiveInt('accumulate', o.accumulate ?? 1);
    nonNegativeInt('evalEvery', o.evalEvery ?? 0);
    if (o.checkpoint) {
      nonNegativeInt('checkpoint.every', o.checkpoint.every);
      nonNegativeInt('checkpoint.keep', o.checkpoint.keep);
    }
    lrAt(o.schedule, 0); // validates the schedule now, with its readable message
    const executor = o.executor ?? (await defaultExecutor());

    const trainInputs = leaves(o.data.inputs);
    const train = o.loss(o.model(trainInputs, { train: true }), trainInputs, lossContext(true));
    const step = await TrainStep.create({
      loss: train.total,
      metrics: train.terms,
      optimizer: o.optimizer,
      clipNorm: o.clipNorm,
      params: o.params,
      seed: o.seed,
      executor,
      threads: o.threads,
      trainable: o.trainable,
      decay: o.decay,
    });

    let evalProgram: Program | undefined;
    const weightNames = new Set(
      step.batchInputs
        .filter((t) => t.name!.startsWith(LOSS_WEIGHT_PREFIX))
        .map((t) => t.name!.slice(LOSS_WEIGHT_PREFIX.length)),
    );
    if (o.evalData) {
      const evalInputs = leaves(o.evalData.inputs);
      const out = o.model(evalInputs, { train: false });
      const ev = o.loss(out, evalInputs, lossContext(false));
      evalProgram = await executor.compile(evalOutputs(ev.total, ev.terms, o.predictions?.(out, evalInputs)), {
        name: 'eval',
        threads: o.threads,
      });
      for (const spec of evalProgram.inputs) {
        if (spec.kind === 'param' && !step.params.values.has(spec.name)) {
          throw new Error(
            `Trainer: the evaluation graph reads parameter '${spec.name}', which the training graph does not; build both from the same model`,
          );
        }
        if (spec.name.startsWith(LOSS_WEIGHT_PREFIX)) weightNames.add(spec.name.slice(LOSS_WEIGHT_PREFIX.length));
      }
    }
    if (o.balance?.mode === 'auto') {
      const unseen = [...weightNames].filter((n) => !(n in train.terms));
      if (unseen.length > 0) {
        throw new Error(
          `Trainer: balance 'auto' scales each weighted term by its running mean, but the loss reports no term named ${unseen.map((n) => `'${n}'`).join(', ')}; return the unweighted terms under their weights' names in loss().terms, or use balance 'fixed'`,
        );
      }
    }
    const hash = configHash(
      o.config ?? {
        optimizer: o.optimizer,
        schedule: o.schedule,
        clipNorm: o.clipNorm ?? null,
        accumulate: o.accumulate ?? 1,
        seed: o.seed ?? 0,
        data: o.data.inputs,
        params: [...step.params.values].map(([k, v]) => [k, v.shape]),
        ...(o.balance?.mode === 'auto' ? { balance: o.balance } : {}),
      },
    );
    return new Trainer(o, step, evalProgram, [...weightNames].sort(), hash);
  }

  /** Optimizer steps completed. */
  get step(): number {
    return this.trainStep.stepCount;
  }

  get params(): ParamStore {
    return this.trainStep.params;
  }

  get dir(): string {
    return this.o.dir;
  }

  get metricsPath(): string {
    return this.metrics.path;
  }

  /**
   * Restores the checkpoint at `from` (a ckpt folder, or a run folder's `latest`; default this run's
   * folder). Returns its step, or null when there is none yet. Everything is read and checked before
   * any state changes, so a refused checkpoint leaves the trainer as it was.
   */
  async resume(from: string = this.o.dir, opts: ResumeOptions = {}): Promise<number | null> {
    const path = resolveCheckpoint(from);
    if (path === undefined) return null;
    const c = loadCheckpoint(path);
    const where = join(path, 'manifest.json');
    if (c.manifest.configHash !== this.configHash && !opts.allowConfigChange) {
      throw new Error(
        `${where}: written by a run with another configuration (hash ${c.manifest.configHash.slice(0, 12)}…, this run's is ${this.configHash.slice(0, 12)}…); resume with the configuration it was saved with, or pass allowConfigChange: true if the change is deliberate`,
      );
    }
    if (canonicalJson(c.optimizer) !== canonicalJson(this.o.optimizer)) {
      throw new Error(
        `${join(path, 'optimizer.safetensors')}: holds state of optimizer ${JSON.stringify(c.optimizer)}, this run uses ${JSON.stringify(this.o.optimizer)}; use the same optimizer settings to resume`,
      );
    }
    const ts = this.trainStep;
    const expectOne = (file: string, name: string, want: HostTensor, got: HostTensor | undefined) => {
      if (!got)
        throw new Error(
          `${join(path, file)}: has no tensor '${name}', which this model needs; was it saved from another model?`,
        );
      if (
        got.dtype !== want.dtype ||
        got.shape.length !== want.shape.length ||
        got.shape.some((d, i) => d !== want.shape[i])
      ) {
        throw new Error(
          `${join(path, file)}: tensor '${name}' is ${got.dtype}[${got.shape}] but this model needs ${want.dtype}[${want.shape}]`,
        );
      }
    };
    const saved = this.savedParamNames();
    for (const name of saved) expectOne('model.safetensors', name, ts.params.get(name), c.params.get(name));
    for (const [key, v] of ts.opt) expectOne('optimizer.safetensors', key, v, c.opt.get(key));
    for (const key of c.opt.keys())
      if (!ts.opt.has(key))
        throw new Error(
          `${join(path, 'optimizer.safetensors')}: tensor '${key}' belongs to no trainable parameter of this model`,
        );
    const stream = this.o.data.open(c.manifest.cursor);
    const state = c.manifest.trainer as unknown as TrainerSavedState;

    // Checked; now change state.
    const params = new ParamStore();
    for (const name of saved) params.set(name, c.params.get(name)!);
    ts.restore({ step: c.manifest.step, params, opt: c.opt });
    this.stream = stream;
    if (state?.monitor) this.monitor.state = { ...state.monitor };
    if (this.balance && state?.balance) this.balance.state = state.balance;
    this.resumed = true;
    this.lastCheckpoint = path;
    this.metrics.truncateAfter(c.manifest.step);
    this.metrics.write({ type: 'resume', step: c.manifest.step, from: path });
    // Said on the console too: a rerun that quietly continued would read as a fresh run.
    (this.o.log ?? ((line: string) => this.progress?.message(line)))(
      `resuming ${this.o.dir} from step ${c.manifest.step} of ${this.o.steps} (${basename(path)})`,
    );
    return c.manifest.step;
  }

  /** Trains until `steps`, or an early stop. Throws TrainingDivergedError on a NaN/inf loss. */
  async run(): Promise<RunSummary> {
    const o = this.o;
    if (!this.resumed && this.step === 0) {
      const existing = listCheckpoints(o.dir);
      if (existing.length > 0) {
        throw new Error(
          `${o.dir}: already holds checkpoints (${existing.map((c) => `ckpt-${c.step}`).join(', ')}); call resume() to continue that run, or train into a new folder`,
        );
      }
      if (existsSync(this.metrics.path)) rmSync(this.metrics.path);
      this.metrics.write({ type: 'start', step: 0, steps: o.steps, configHash: this.configHash, ...o.runInfo });
    }
    this.progress?.start(o.steps, this.step);
    let stoppedEarly = this.monitor.shouldStop;
    let lastEval: EvalResult | undefined;
    let savedAt = -1;
    while (this.step < o.steps && !stoppedEarly) {
      const record = await this.trainOneStep();
      const s = record.step;
      this.metrics.write({ type: 'step', ...record });
      this.progress?.update({ step: s, loss: record.loss, terms: record.terms, lr: record.lr });
      await o.onEvent?.({ type: 'step', record });

      let best = false;
      const evalEvery = o.evalEvery ?? 0;
      if (this.evalProgram && ((evalEvery > 0 && s % evalEvery === 0) || s === o.steps)) {
        lastEval = await this.evaluate();
        best = this.monitor.observe(metricOf(lastEval, this.monitor.metric), s);
        stoppedEarly = this.monitor.shouldStop;
        this.metrics.write({ type: 'eval', ...lastEval, best });
        this.progress?.message(this.describeEval(lastEval, best));
        await o.onEvent?.({ type: 'eval', result: lastEval, best });
      }
      const every = this.checkpointing.every;
      if ((every > 0 && s % every === 0) || s === o.steps || stoppedEarly || best) {
        await this.checkpoint(best, lastEval?.step === s ? lastEval : undefined);
        savedAt = s;
      }
    }
    if (stoppedEarly && savedAt !== this.step && this.step > 0) await this.checkpoint(false);
    if (stoppedEarly) {
      const { best, bestStep } = this.monitor.state;
      const msg = `early stop at step ${this.step}: ${this.monitor.metric} has not improved for ${this.monitor.state.stale} evaluations (best ${best} at step ${bestStep})`;
      this.metrics.write({ type: 'stop', step: this.step, reason: msg });
      this.progress?.message(msg);
    }
    this.progress?.finish();
    return { step: this.step, stoppedEarly, best: this.bestMark(), lastEval, lastCheckpoint: this.lastCheckpoint };
  }

  /** Runs the evaluation program over every held-out batch with the current parameters. */
  async evaluate(): Promise<EvalResult> {
    if (!this.evalProgram || !this.o.evalData) throw new Error('Trainer.evaluate: no evalData was given');
    const acc = new EvalAccumulator();
    // Evaluation weighs terms as given, unbalanced, so its loss compares across the run.
    const weights = this.weightFeeds(this.step, false);
    for (const batch of this.o.evalData.batches()) {
      const feeds: Record<string, HostTensor> = {};
      for (const spec of this.evalProgram.inputs) {
        const v = batch[spec.name] ?? weights[spec.name] ?? this.params.values.get(spec.name);
        if (v) feeds[spec.name] = v;
      }
      const out = await this.evalProgram.run(feeds);
      acc.add(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, scalar(v)])));
    }
    return acc.result(this.step);
  }

  /** Writes a checkpoint of the current state now; returns its folder. */
  async save(): Promise<string> {
    return this.checkpoint(false);
  }

  private async checkpoint(best: boolean, evaluated?: EvalResult): Promise<string> {
    const ts = this.trainStep;
    const params = new Map<string, HostTensor>();
    for (const name of this.savedParamNames()) params.set(name, ts.params.get(name));
    const state: TrainerSavedState = {
      monitor: this.monitor.state,
      ...(this.balance ? { balance: this.balance.state } : {}),
    };
    const path = saveCheckpoint(
      this.o.dir,
      {
        step: this.step,
        params,
        opt: ts.opt,
        optimizer: this.o.optimizer as unknown as Json,
        cursor: this.stream.cursor(),
        trainer: state as unknown as Json,
        configHash: this.configHash,
        metric: evaluated
          ? { name: this.monitor.metric, value: metricOf(evaluated, this.monitor.metric), step: this.step }
          : null,
        best: this.bestMark(),
        extraFiles: this.checkpointing.extraFiles,
      },
      { keep: this.checkpointing.keep, isBest: best },
    );
    this.lastCheckpoint = path;
    this.metrics.write({ type: 'checkpoint', step: this.step, path, best });
    await this.o.onEvent?.({ type: 'checkpoint', step: this.step, path, best });
    return path;
  }

  private async trainOneStep(): Promise<StepRecord> {
    const ts = this.trainStep;
    const index = ts.stepCount;
    const lr = lrAt(this.o.schedule, index);
    const weightFeeds = this.weightFeeds(index);
    const k = this.o.accumulate ?? 1;
    const batches: Batch[] = Array.from({ length: k }, () => ({ ...this.stream.next(), ...weightFeeds }));
    const t0 = performance.now();
    let r;
    try {
      r = k === 1 ? await ts.run(batches[0]!, lr) : await ts.runAccumulated(batches, lr);
    } catch (err) {
      if (!(err instanceof NonFiniteLossError)) throw err;
      const e = new TrainingDivergedError(err.step + 1, err.loss, err.gradNorm, this.lastCheckpoint);
      this.metrics.write({
        type: 'error',
        step: err.step + 1,
        loss: String(err.loss),
        gradNorm: String(err.gradNorm),
        message: e.message,
      });
      this.progress?.finish();
      throw e;
    }
    const weights = Object.fromEntries(
      Object.entries(weightFeeds).map(([k2, v]) => [k2.slice(LOSS_WEIGHT_PREFIX.length), scalar(v)]),
    );
    this.balance?.observe(this.weightNames, r.metrics);
    return {
      step: r.step + 1,
      loss: r.loss,
      terms: r.metrics,
      gradNorm: r.gradNorm,
      lr,
      weights,
      ms: performance.now() - t0,
    };
  }

  /** Feeds `loss.weight.{name}` for step `index` (divided by the running means when balancing); every weight the graphs read must have a number. */
  private weightFeeds(index: number, balanced = true): Record<string, HostTensor> {
    if (this.weightNames.length === 0) return {};
    const given = this.o.lossWeights?.(index) ?? {};
    const feeds: Record<string, HostTensor> = {};
    for (const name of this.weightNames) {
      const v = given[name];
      if (typeof v !== 'number') {
        throw new Error(
          `Trainer: loss weight '${name}' has no value at step ${index} (lossWeights returned {${Object.keys(given).join(', ')}}); return a number for each of: ${this.weightNames.join(', ')}`,
        );
      }
      feeds[`${LOSS_WEIGHT_PREFIX}${name}`] = hostTensor(
        'float32',
        [],
        [this.balance && balanced ? this.balance.scale(name, v) : v],
      );
    }
    return feeds;
  }

  private savedParamNames(): string[] {
    const keep = this.o.saveParam;
    return keep ? [...this.params.values.keys()].filter(keep) : [...this.trainStep.trainableNames];
  }

  private bestMark(): EvalMark | null {
    const { best, bestStep } = this.monitor.state;
    return best === null || bestStep === null ? null : { name: this.monitor.metric, value: best, step: bestStep };
  }

  private describeEval(r: EvalResult, best: boolean): string {
    const parts = [`eval @ step ${r.step}: loss ${r.loss.toFixed(4)}`];
    for (const [k, v] of Object.entries(r.terms)) parts.push(`${k} ${v.toFixed(4)}`);
    if (r.accuracy !== undefined) parts.push(`accuracy ${(100 * r.accuracy).toFixed(1)}%`);
    if (r.perplexity !== undefined) parts.push(`perplexity ${r.perplexity.toFixed(2)}`);
    return parts.join(' | ') + (best ? ' (best)' : '');
  }
}
