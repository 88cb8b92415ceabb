// One training step as one graph: forward, backward (autodiff), optional clipping and the
// optimizer update, compiled once and run once per step. Parameters and optimizer state stay
// in typed arrays between steps: each step's outputs are the next step's feeds, uncopied.
import { grad } from '../autodiff/index.ts';
import { input, topoSort, type Tensor } from '../graph/index.ts';
import { OrtExecutor, ParamStore, hostTensor, type Executor, type HostTensor, type Program } from '../runtime/index.ts';
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

export class TrainStep {
  private constructor(
    private readonly program: Program,
    readonly params: ParamStore,
    readonly opt: Map<string, HostTensor>,
    readonly trainableNames: readonly string[],
    private readonly optimizer: OptimizerConfig,
    private readonly slots: readonly string[],
    private readonly metricNames: readonly string[],
    readonly batchInputs: readonly Tensor[],
    private readonly seed: number,
    public stepCount: number,
  ) {}

  static async create(o: TrainStepOptions): Promise<TrainStep> {
    const rule = ruleFor(o.optimizer);
    const seed = o.seed ?? 0;
    const leaves = topoSort([o.loss, ...Object.values(o.metrics ?? {})]).filter((t) => t.leaf);
    const allParams = leaves.filter((t) => t.leaf === 'param');
    const batchInputs = leaves.filter((t) => t.leaf === 'input');
    const trainable = allParams.filter((p) => (o.trainable ? o.trainable(p.name!) : true));
    if (trainable.length === 0) throw new Error('TrainStep: no trainable parameter reaches the loss; check `trainable` and the model code');

    const params = o.params ?? new ParamStore();
    const fresh = ParamStore.init(allParams.filter((p) => !params.values.has(p.name!)), seed);
    for (const [k, v] of fresh.values) params.set(k, v);
    for (const p of allParams) {
      const v = params.get(p.name!);
      if (v.shape.length !== p.rank || v.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(`TrainStep: parameter '${p.name}' has a value of shape [${v.shape.join(', ')}] but the model declares [${p.shape.join(', ')}]`);
      }
    }

    const grads0 = grad(o.loss, trainable);
    const { grads, norm } = o.clipNorm ? clipByGlobalNorm(grads0, o.clipNorm) : { grads: grads0, norm: globalNorm(grads0) };
    const scalars = Object.fromEntries(rule.scalarNames.map((n) => [n, input(`opt.${n}`, [], 'float32')]));
    const decay = o.decay ?? ((_n: string, p: Tensor) => p.rank >= 2);
    const outputs: Record<string, Tensor> = { loss: o.loss, grad_norm: norm };
    const opt = new Map<string, HostTensor>();
    trainable.forEach((p, i) => {
      const state = Object.fromEntries(rule.slots.map((s) => [s, input(`opt.${s}.${p.name}`, p.shape, p.dtype)]));
      for (const s of rule.slots) opt.set(`${s}.${p.name}`, hostTensor(p.dtype, p.shape, new (p.dtype === 'float64' ? Float64Array : Float32Array)(p.size)));
      const next = rule.update({ config: o.optimizer, param: p, grad: grads[i]!, state, scalars, decay: decay(p.name!, p) });
      outputs[`next.${p.name}`] = next.param;
      for (const s of rule.slots) outputs[`next.opt.${s}.${p.name}`] = next.state[s]!;
    });
    for (const [k, t] of Object.entries(o.metrics ?? {})) outputs[`metric.${k}`] = t;

    const executor = o.executor ?? new OrtExecutor();
    const program = await executor.compile(outputs, { name: 'train_step', threads: o.threads });
    return new TrainStep(program, params, opt, trainable.map((p) => p.name!), o.optimizer, rule.slots, Object.keys(o.metrics ?? {}), batchInputs, seed, 0);
  }

  /** Runs one step on a batch (feeds for the model's inputs) at learning rate `lr`. */
  async run(batch: Record<string, HostTensor>, lr: number): Promise<StepResult> {
    const rule = ruleFor(this.optimizer);
    const feeds: Record<string, HostTensor> = { ...batch };
    for (const [name, v] of this.params.values) feeds[name] = v;
    for (const [key, v] of this.opt) feeds[`opt.${key}`] = v;
    for (const [n, v] of Object.entries(rule.scalars(this.optimizer, this.stepCount, lr))) feeds[`opt.${n}`] = hostTensor('float32', [], [v]);
    const feedNames = new Set(this.program.inputs.map((s) => s.name));
    for (const k of Object.keys(feeds)) if (!feedNames.has(k)) delete feeds[k];

    const out = await this.program.run(feeds, { seed: this.seed, step: this.stepCount });
    const loss = scalarOf(out.loss!);
    const gradNorm = scalarOf(out.grad_norm!);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      // Keep the last good parameters: the caller decides whether to stop or skip.
      throw new NonFiniteLossError(this.stepCount, loss, gradNorm);
    }
    for (const name of this.trainableNames) {
      this.params.set(name, out[`next.${name}`]!);
      for (const s of this.slots) this.opt.set(`${s}.${name}`, out[`next.opt.${s}.${name}`]!);
    }
    const metrics: Record<string, number> = {};
    for (const k of this.metricNames) {
      const m = out[`metric.${k}`]!;
      if (m.data.length === 1) metrics[k] = scalarOf(m);
    }
    return { step: this.stepCount++, loss, gradNorm, lr, metrics };
  }

  /** Raw metric tensors of the last run are not kept; use `evaluate` programs for full outputs. */
  state(): TrainState {
    return { step: this.stepCount, params: this.params, opt: this.opt };
  }

  restore(state: TrainState): void {
    for (const [k, v] of state.params.values) this.params.set(k, v);
    for (const [k, v] of state.opt) {
      if (!this.opt.has(k)) throw new Error(`restore: optimizer state '${k}' does not belong to this model/optimizer`);
      this.opt.set(k, v);
    }
    this.stepCount = state.step;
  }
}

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(readonly step: number, readonly loss: number, readonly gradNorm: number) {
    super(`step ${step}: loss is ${loss} and gradient norm ${gradNorm}; the update was not applied. Lower the learning rate, enable clipping (clipNorm), or check the data for bad values`);
  }
}
