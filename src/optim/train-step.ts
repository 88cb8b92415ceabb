// One training step as one graph: forward, backward (autodiff), optional clipping and the
// optimizer update, compiled once and run once per step. Parameters and optimizer state stay
// in typed arrays between steps: each step's outputs are the next step's feeds, uncopied.
import { grad } from '../autodiff/index.ts';
import { add, input, mul, topoSort, type Tensor } from '../graph/index.ts';
import {
  defaultExecutor,
  ParamStore,
  hostTensor,
  type Executor,
  type HostTensor,
  type Program,
} from '../runtime/index.ts';
import { clipByGlobalNorm, globalNorm } from './clip.ts';
import { ruleFor, type OptimizerConfig } from './optimizers.ts';

export interface TrainStepOptions {
  /** The scalar to minimize. */
  loss: Tensor;
  /** More tensors to report every step (component losses, accuracy, ...). Scalars are returned as numbers. */
  metrics?: Record<string, Tensor>;
  optimizer: OptimizerConfig;
  /** Which parameters learn; the rest are fed but frozen (a teacher's weights, say). Default: all. */
  trainable?: (name: string) => boolean;
  /** Which trainable parameters get weight decay. Default: those of rank >= 2 (matrices, embeddings). */
  decay?: (name: string, p: Tensor) => boolean;
  /** Clip the global gradient norm to this value; 0 or absent turns clipping off. */
  clipNorm?: number;
  /** Starting values; parameters missing from it are initialized from `seed`. */
  params?: ParamStore;
  seed?: number;
  executor?: Executor;
  threads?: number;
}

export interface StepResult {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  metrics: Record<string, number>;
}

export interface TrainState {
  step: number;
  params: ParamStore;
  /** Optimizer slots by `${slot}.${param}`. */
  opt: Map<string, HostTensor>;
}

const scalarOf = (t: HostTensor): number => Number(t.data[0]);

/** What create() compiles and hands the step: the program and the state it runs over. */
interface CompiledStep {
  program: Program;
  params: ParamStore;
  /** Optimizer slots by `${slot}.${param}`. */
  opt: Map<string, HostTensor>;
  trainableNames: readonly string[];
  optimizer: OptimizerConfig;
  /** The optimizer's slot names (m, v for AdamW). */
  slots: readonly string[];
  metricNames: readonly string[];
  /** The graph's inputs fed from each batch. */
  batchInputs: readonly Tensor[];
  /** Seeds the step's dropout noise. */
  seed: number;
  /** What gradient accumulation re-traces the step from. */
  source: AccumulationSource;
}

export class TrainStep {
  /** Buffers the next run writes into (the state two steps back); empty until the first run. */
  private spare: Record<string, HostTensor> = {};

  private readonly program: Program;
  readonly params: ParamStore;
  readonly opt: Map<string, HostTensor>;
  readonly trainableNames: readonly string[];
  private readonly optimizer: OptimizerConfig;
  private readonly slots: readonly string[];
  private readonly metricNames: readonly string[];
  readonly batchInputs: readonly Tensor[];
  private readonly seed: number;
  public stepCount = 0;
  private readonly source: AccumulationSource;

  private constructor(c: CompiledStep) {
    this.program = c.program;
    this.params = c.params;
    this.opt = c.opt;
    this.trainableNames = c.trainableNames;
    this.optimizer = c.optimizer;
    this.slots = c.slots;
    this.metricNames = c.metricNames;
    this.batchInputs = c.batchInputs;
    this.seed = c.seed;
    this.source = c.source;
  }

  static async create(o: TrainStepOptions): Promise<TrainStep> {
    const rule = ruleFor(o.optimizer);
    const seed = o.seed ?? 0;
    const leaves = topoSort([o.loss, ...Object.values(o.metrics ?? {})]).filter((t) => t.leaf);
    const allParams = leaves.filter((t) => t.leaf === 'param');
    const batchInputs = leaves.filter((t) => t.leaf === 'input');
    const trainable = allParams.filter((p) => (o.trainable ? o.trainable(p.name!) : true));
    if (trainable.length === 0)
      throw new Error('TrainStep: no trainable parameter reaches the loss; check `trainable` and the model code');

    const params = o.params ?? new ParamStore();
    const fresh = ParamStore.init(
      allParams.filter((p) => !params.values.has(p.name!)),
      seed,
    );
    for (const [k, v] of fresh.values) params.set(k, v);
    for (const p of allParams) {
      const v = params.get(p.name!);
      if (v.shape.length !== p.rank || v.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(
          `TrainStep: parameter '${p.name}' has a value of shape [${v.shape.join(', ')}] but the model declares [${p.shape.join(', ')}]`,
        );
      }
    }

    const grads0 = grad(o.loss, trainable);
    const decay = o.decay ?? ((_n: string, p: Tensor) => p.rank >= 2);
    const outputs: Record<string, Tensor> = {
      loss: o.loss,
      ...updateOutputs(trainable, grads0, o.optimizer, o.clipNorm, decay),
    };
    const opt = new Map<string, HostTensor>();
    for (const p of trainable) {
      for (const s of rule.slots)
        opt.set(
          `${s}.${p.name}`,
          hostTensor(p.dtype, p.shape, new (p.dtype === 'float64' ? Float64Array : Float32Array)(p.size)),
        );
    }
    for (const [k, t] of Object.entries(o.metrics ?? {})) outputs[`metric.${k}`] = t;

    const executor = o.executor ?? (await defaultExecutor());
    const program = await executor.compile(outputs, { name: 'train_step', threads: o.threads });
    const source: AccumulationSource = {
      loss: o.loss,
      metrics: o.metrics ?? {},
      trainable,
      grads: grads0,
      decay,
      clipNorm: o.clipNorm,
      executor,
      threads: o.threads,
    };
    return new TrainStep({
      program,
      params,
      opt,
      trainableNames: trainable.map((p) => p.name!),
      optimizer: o.optimizer,
      slots: rule.slots,
      metricNames: Object.keys(o.metrics ?? {}),
      batchInputs,
      seed,
      source,
    });
  }

  /** Runs one step on a batch (feeds for the model's inputs) at learning rate `lr`. */
  async run(batch: Record<string, HostTensor>, lr: number): Promise<StepResult> {
    const feeds = onlyInputs(this.program, this.stateFeeds(batch, lr));

    const out = await this.program.run(feeds, { seed: this.seed, step: this.stepCount, into: this.spare });
    const loss = scalarOf(out.loss!);
    const gradNorm = scalarOf(out.grad_norm!);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      // Keep the last good parameters: the caller decides whether to stop or skip.
      throw new NonFiniteLossError(this.stepCount, loss, gradNorm);
    }
    this.adopt(out);
    const metrics: Record<string, number> = {};
    for (const k of this.metricNames) {
      const m = out[`metric.${k}`]!;
      if (m.data.length === 1) metrics[k] = scalarOf(m);
    }
    return { step: this.stepCount++, loss, gradNorm, lr, metrics };
  }

  /**
   * One optimizer step on the mean gradient of several micro-batches (gradient accumulation).
   * Two more programs, compiled on first use: `grads` (forward and backward of one micro-batch, adding
   * its gradients into running sums that are fed back in) and `apply` (mean, clipping and the update).
   * Memory stays that of one micro-batch and the graphs do not grow with the count, which may change
   * between calls without recompiling. The loss and metrics reported are the micro-batch means.
   */
  async runAccumulated(batches: readonly Record<string, HostTensor>[], lr: number): Promise<StepResult> {
    if (batches.length === 0) throw new Error('runAccumulated: no micro-batch given; pass at least one batch of feeds');
    const { grads, apply, zeros } = await (this.accumulation ??= compileAccumulation(this.source, this.optimizer));
    let acc = zeros;
    let lossSum = 0;
    const metricSums: Record<string, number> = {};
    for (const [i, batch] of batches.entries()) {
      const feeds: Record<string, HostTensor> = { ...batch };
      for (const [name, v] of this.params.values) feeds[name] = v;
      for (const [name, v] of acc) feeds[`acc.${name}`] = v;
      const out = await grads.run(onlyInputs(grads, feeds), {
        seed: this.seed,
        step: this.stepCount * batches.length + i,
      });
      lossSum += scalarOf(out.loss!);
      acc = new Map(this.trainableNames.map((n) => [n, out[`acc.next.${n}`]!]));
      for (const k of this.metricNames) {
        const m = out[`metric.${k}`]!;
        if (m.data.length === 1) metricSums[k] = (metricSums[k] ?? 0) + scalarOf(m);
      }
    }
    const loss = lossSum / batches.length;
    const feeds = this.stateFeeds({ 'accum.scale': hostTensor('float32', [], [1 / batches.length]) }, lr);
    for (const [name, v] of acc) feeds[`acc.${name}`] = v;
    const out = await apply.run(onlyInputs(apply, feeds));
    const gradNorm = scalarOf(out.grad_norm!);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm))
      throw new NonFiniteLossError(this.stepCount, loss, gradNorm);
    this.adopt(out);
    const metrics = Object.fromEntries(Object.entries(metricSums).map(([k, v]) => [k, v / batches.length]));
    return { step: this.stepCount++, loss, gradNorm, lr, metrics };
  }

  private accumulation?: Promise<AccumulationPrograms>;

  /** The batch plus parameters, optimizer state and this step's optimizer scalars. */
  private stateFeeds(batch: Record<string, HostTensor>, lr: number): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = { ...batch };
    for (const [name, v] of this.params.values) feeds[name] = v;
    for (const [key, v] of this.opt) feeds[`opt.${key}`] = v;
    const scalars = ruleFor(this.optimizer).scalars(this.optimizer, this.stepCount, lr);
    for (const [n, v] of Object.entries(scalars)) feeds[`opt.${n}`] = hostTensor('float32', [], [v]);
    return feeds;
  }

  /** Swaps buffers: a step's outputs become the live state, the old state the next step's outputs. */
  private adopt(out: Record<string, HostTensor>): void {
    const spare: Record<string, HostTensor> = {};
    for (const name of this.trainableNames) {
      spare[`next.${name}`] = this.params.get(name);
      this.params.set(name, out[`next.${name}`]!);
      for (const s of this.slots) {
        const key = `${s}.${name}`;
        spare[`next.opt.${key}`] = this.opt.get(key)!;
        this.opt.set(key, out[`next.opt.${key}`]!);
      }
    }
    this.spare = spare;
  }

  /** Raw metric tensors of the last run are not kept; use `evaluate` programs for full outputs. */
  state(): TrainState {
    return { step: this.stepCount, params: this.params, opt: this.opt };
  }

  /**
   * Parameter and optimizer arrays are live buffers reused every other step: copy what must be
   * kept (checkpoints serialize at once, so they need no copy).
   */
  restore(state: TrainState): void {
    this.spare = {};
    for (const [k, v] of state.params.values) this.params.set(k, v);
    for (const [k, v] of state.opt) {
      if (!this.opt.has(k)) throw new Error(`restore: optimizer state '${k}' does not belong to this model/optimizer`);
      this.opt.set(k, v);
    }
    this.stepCount = state.step;
  }
}

/** What `runAccumulated` needs to build its two programs from the traced loss. */
interface AccumulationSource {
  loss: Tensor;
  metrics: Record<string, Tensor>;
  trainable: readonly Tensor[];
  /** Unclipped gradients of `loss`, one per trainable parameter. */
  grads: readonly Tensor[];
  decay: (name: string, p: Tensor) => boolean;
  clipNorm?: number;
  executor: Executor;
  threads?: number;
}

interface AccumulationPrograms {
  grads: Program;
  apply: Program;
  /** Zero running sums for the first micro-batch (inputs are never written, so one set serves every step). */
  zeros: Map<string, HostTensor>;
}

/** Clipping and the optimizer update of each trainable parameter: outputs grad_norm, next.{p}, next.opt.{slot}.{p}. */
function updateOutputs(
  trainable: readonly Tensor[],
  grads0: readonly Tensor[],
  optimizer: OptimizerConfig,
  clipNorm: number | undefined,
  decay: (name: string, p: Tensor) => boolean,
): Record<string, Tensor> {
  const rule = ruleFor(optimizer);
  const { grads, norm } = clipNorm ? clipByGlobalNorm(grads0, clipNorm) : { grads: grads0, norm: globalNorm(grads0) };
  const scalars = Object.fromEntries(rule.scalarNames.map((n) => [n, input(`opt.${n}`, [], 'float32')]));
  const outputs: Record<string, Tensor> = { grad_norm: norm };
  trainable.forEach((p, i) => {
    const state = Object.fromEntries(rule.slots.map((s) => [s, input(`opt.${s}.${p.name}`, p.shape, p.dtype)]));
    const next = rule.update({
      config: optimizer,
      param: p,
      grad: grads[i]!,
      state,
      scalars,
      decay: decay(p.name!, p),
    });
    outputs[`next.${p.name}`] = next.param;
    for (const s of rule.slots) outputs[`next.opt.${s}.${p.name}`] = next.state[s]!;
  });
  return outputs;
}

async function compileAccumulation(src: AccumulationSource, optimizer: OptimizerConfig): Promise<AccumulationPrograms> {
  const gradOutputs: Record<string, Tensor> = { loss: src.loss };
  const means: Tensor[] = [];
  const scale = input('accum.scale', [], 'float32');
  const zeros = new Map<string, HostTensor>();
  src.trainable.forEach((p, i) => {
    gradOutputs[`acc.next.${p.name}`] = add(input(`acc.${p.name}`, p.shape, p.dtype), src.grads[i]!);
    means.push(mul(input(`acc.${p.name}`, p.shape, p.dtype), scale));
    zeros.set(p.name!, hostTensor(p.dtype, p.shape, new (p.dtype === 'float64' ? Float64Array : Float32Array)(p.size)));
  });
  for (const [k, t] of Object.entries(src.metrics)) gradOutputs[`metric.${k}`] = t;
  const applyOutputs = updateOutputs(src.trainable, means, optimizer, src.clipNorm, src.decay);
  const [grads, apply] = await Promise.all([
    src.executor.compile(gradOutputs, { name: 'train_grads', threads: src.threads }),
    src.executor.compile(applyOutputs, { name: 'train_apply', threads: src.threads }),
  ]);
  return { grads, apply, zeros };
}

/** The feeds a program reads (extra ones, e.g. weights a graph does not use, are dropped). */
function onlyInputs(program: Program, feeds: Record<string, HostTensor>): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const spec of program.inputs) if (spec.name in feeds) out[spec.name] = feeds[spec.name]!;
  return out;
}

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
  ) {
    super(
      `step ${step}: loss is ${loss} and gradient norm ${gradNorm}; the update was not applied. Lower the learning rate, enable clipping (clipNorm), or check the data for bad values`,
    );
  }
}
