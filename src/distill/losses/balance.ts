// Combining named loss terms with weights that change over training.
//
// The weights are graph inputs, one rank-0 scalar per term named `loss.weight.{name}`, so a new
// weight each step is a new feed, never a new graph: the training step compiles once. The JS side
// (LossBalancer) decides the weights: a schedule per term (constant, or a linear ramp between two
// steps), optionally divided by the term's running mean magnitude ('auto'), so each term
// contributes about its scheduled weight whatever its natural scale. That running mean is an EMA of
// the per-term values the training step reports, bias-corrected as Adam's moments are (Kingma & Ba
// 2015, §2), so the first steps are not scaled by a mean still near its zero start.
import { add, input, mul, type DType, type Tensor } from '../../graph/index.ts';
import { hostTensor, type HostTensor } from '../../runtime/host.ts';
import { z } from 'zod';

export const weightScheduleSchema = z.union([
  /** A constant weight. */
  z.number().nonnegative(),
  z.object({ kind: z.literal('constant'), value: z.number().nonnegative() }),
  /** `from` until startStep, `to` from endStep on, linear in between. */
  z
    .object({
      kind: z.literal('linear'),
      from: z.number().nonnegative(),
      to: z.number().nonnegative(),
      startStep: z.number().int().nonnegative().default(0),
      endStep: z.number().int().nonnegative(),
    })
    .refine((s) => s.endStep >= s.startStep, { message: 'endStep must be ≥ startStep' }),
]);
export type WeightSchedule = z.input<typeof weightScheduleSchema>;

export const balanceSchema = z.object({
  /** A schedule per term, by the term's name (the keys of combineLosses' terms). */
  weights: z.record(z.string(), weightScheduleSchema),
  /** fixed: the schedule's weight. auto: the schedule's weight over the term's running mean |value|. */
  mode: z.enum(['fixed', 'auto']).default('fixed'),
  /** EMA decay of the running means ('auto'). */
  emaDecay: z.number().min(0).lt(1).default(0.99),
  /** Floor of a running mean before it divides ('auto'). */
  eps: z.number().positive().default(1e-8),
});
export type BalanceConfig = z.input<typeof balanceSchema>;

/** A schedule's weight at a step. */
export function scheduleAt(schedule: WeightSchedule, step: number): number {
  const s = weightScheduleSchema.parse(schedule);
  if (typeof s === 'number') return s;
  if (s.kind === 'constant') return s.value;
  if (step <= s.startStep) return s.from;
  if (step >= s.endStep) return s.to;
  return s.from + ((s.to - s.from) * (step - s.startStep)) / (s.endStep - s.startStep);
}

export const lossWeightName = (term: string): string => `loss.weight.${term}`;

/** One rank-0 weight input per term, named `loss.weight.{name}`. */
export function lossWeightInputs(names: readonly string[], dtype: DType = 'float32'): Record<string, Tensor> {
  return Object.fromEntries(names.map((n) => [n, input(lossWeightName(n), [], dtype)]));
}

export interface CombinedLoss {
  /** Σ weight_name · term_name */
  total: Tensor;
  /** The unweighted terms, for metrics (and LossBalancer.observe). */
  terms: Record<string, Tensor>;
  /** weight_name · term_name */
  weighted: Record<string, Tensor>;
}

/** total = Σ_name weightInputs[name] · terms[name]; every term needs a weight and every weight a term. */
export function combineLosses(terms: Record<string, Tensor>, weightInputs: Record<string, Tensor>): CombinedLoss {
  const names = Object.keys(terms);
  if (names.length === 0) throw new Error('combineLosses: no loss terms given');
  const noWeight = names.filter((n) => !(n in weightInputs));
  const noTerm = Object.keys(weightInputs).filter((n) => !(n in terms));
  if (noWeight.length > 0 || noTerm.length > 0) {
    throw new Error(
      `combineLosses: terms and weights must name the same losses; ` +
        (noWeight.length
          ? `no weight for ${noWeight.join(', ')} (make them with lossWeightInputs(Object.keys(terms)))`
          : '') +
        (noWeight.length && noTerm.length ? '; ' : '') +
        (noTerm.length ? `no term for weight(s) ${noTerm.join(', ')}` : ''),
    );
  }
  const weighted: Record<string, Tensor> = {};
  let total: Tensor | undefined;
  for (const n of names) {
    const t = terms[n]!,
      w = weightInputs[n]!;
    if (t.size !== 1)
      throw new Error(`combineLosses: term '${n}' has shape [${t.shape.join(', ')}]; reduce it to a scalar first`);
    if (w.size !== 1 || w.dtype !== t.dtype)
      throw new Error(`combineLosses: weight of '${n}' must be a ${t.dtype} scalar like its term, got ${w}`);
    weighted[n] = mul(t, w);
    total = total ? add(total, weighted[n]!) : weighted[n]!;
  }
  return { total: total!, terms, weighted };
}

export interface BalanceReport {
  step: number;
  /** The weights used at this step, by term. */
  weights: Record<string, number>;
  /** Bias-corrected running mean |value| by term ('auto'; absent before a term's first observation). */
  runningMean: Record<string, number>;
}

/** The running-mean state of a RunningScale, as checkpoints store it. */
export interface RunningScaleState {
  ema: Record<string, number>;
  seen: Record<string, number>;
}

/**
 * A bias-corrected EMA of each term's |value|, and a weight divided by it: what 'auto' balancing
 * does, for the LossBalancer and for the trainer's `balance` option alike.
 */
export class RunningScale {
  private ema = new Map<string, number>();
  private seen = new Map<string, number>();

  constructor(
    readonly decay: number,
    readonly eps: number,
  ) {}

  /** Bias-corrected running mean |value| of `name`; undefined before its first observation. */
  mean(name: string): number | undefined {
    const n = this.seen.get(name);
    if (!n) return undefined;
    return this.ema.get(name)! / (1 - this.decay ** n);
  }

  /** `base` over the running mean (unchanged before the term was first seen). */
  scale(name: string, base: number): number {
    const m = this.mean(name);
    return m === undefined ? base : base / Math.max(m, this.eps);
  }

  /** Records the unweighted values of `names` a step reported. Non-finite values are skipped, not averaged in. */
  observe(names: readonly string[], values: Record<string, number>): void {
    for (const name of names) {
      const v = values[name];
      if (v === undefined || !Number.isFinite(v)) continue;
      this.ema.set(name, this.decay * (this.ema.get(name) ?? 0) + (1 - this.decay) * Math.abs(v));
      this.seen.set(name, (this.seen.get(name) ?? 0) + 1);
    }
  }

  get state(): RunningScaleState {
    return { ema: Object.fromEntries(this.ema), seen: Object.fromEntries(this.seen) };
  }

  set state(s: RunningScaleState) {
    this.ema = new Map(Object.entries(s.ema));
    this.seen = new Map(Object.entries(s.seen));
  }
}

/** Decides each step's loss weights on the JS side; feed its `feeds(step)` to the training step. */
export class LossBalancer {
  readonly config: z.output<typeof balanceSchema>;
  private readonly running: RunningScale;

  constructor(config: BalanceConfig) {
    this.config = balanceSchema.parse(config);
    this.running = new RunningScale(this.config.emaDecay, this.config.eps);
  }

  get names(): string[] {
    return Object.keys(this.config.weights);
  }

  /** The weight of every term at `step`. */
  weightsAt(step: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, schedule] of Object.entries(this.config.weights)) {
      const base = scheduleAt(schedule, step);
      out[name] = this.config.mode === 'auto' ? this.running.scale(name, base) : base;
    }
    return out;
  }

  /** Rank-0 feeds `loss.weight.{name}` for the step. */
  feeds(step: number, dtype: 'float32' | 'float64' = 'float32'): Record<string, HostTensor> {
    return Object.fromEntries(
      Object.entries(this.weightsAt(step)).map(([n, w]) => [lossWeightName(n), hostTensor(dtype, [], [w])]),
    );
  }

  /** Records the unweighted term values a step reported. Non-finite values are skipped, not averaged in. */
  observe(values: Record<string, number>): void {
    this.running.observe(this.names, values);
  }

  report(step: number): BalanceReport {
    const runningMean: Record<string, number> = {};
    for (const n of this.names) {
      const m = this.running.mean(n);
      if (m !== undefined) runningMean[n] = m;
    }
    return { step, weights: this.weightsAt(step), runningMean };
  }
}
