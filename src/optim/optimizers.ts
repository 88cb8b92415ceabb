// Optimizers as graph builders: the update is traced into the same graph as forward and backward,
// so one onnxruntime run does a whole training step. One row per optimizer; per-step scalars
// (learning rate, bias corrections) are computed in JS and fed, so schedules never recompile.
import { add, div, mul, sqrt, sub, type Tensor } from '../graph/index.ts';

export interface AdamWConfig {
  kind: 'adamw';
  betas: [number, number];
  eps: number;
  /** Decoupled weight decay (Loshchilov & Hutter 2019), applied as p -= lr·wd·p. */
  weightDecay: number;
}

export interface SgdConfig {
  kind: 'sgd';
  momentum: number;
  /** Nesterov momentum (Sutskever et al. 2013). */
  nesterov: boolean;
  weightDecay: number;
}

export type OptimizerConfig = AdamWConfig | SgdConfig;

export interface UpdateArgs<C> {
  config: C;
  param: Tensor;
  grad: Tensor;
  state: Record<string, Tensor>;
  /** Per-step scalar inputs by name (all float32 rank-0). */
  scalars: Record<string, Tensor>;
  /** Whether this parameter gets weight decay (biases and norms usually do not). */
  decay: boolean;
}

export interface OptimizerRule<C> {
  /** Names of the per-parameter state tensors, each shaped like the parameter. */
  slots: readonly string[];
  /** Names of the per-step scalars this optimizer reads. */
  scalarNames: readonly string[];
  scalars(config: C, step: number, lr: number): Record<string, number>;
  update(args: UpdateArgs<C>): { param: Tensor; state: Record<string, Tensor> };
}

const adamw: OptimizerRule<AdamWConfig> = {
  slots: ['m', 'v'],
  // Scalars are folded in JS so the update makes as few passes over each parameter as possible:
  // bias corrections 1/(1-β^t) for step t = step+1 (Kingma & Ba 2015, Alg. 1) join the learning rate.
  scalarNames: ['stepSize', 'bc2', 'keep'],
  scalars: ({ betas: [b1, b2], weightDecay }, step, lr) => ({
    stepSize: lr / (1 - b1 ** (step + 1)),
    bc2: 1 / (1 - b2 ** (step + 1)),
    keep: 1 - lr * weightDecay,
  }),
  update({
    config: {
      betas: [b1, b2],
      eps,
    },
    param,
    grad,
    state,
    scalars,
    decay,
  }) {
    const m = add(mul(state.m!, b1), mul(grad, 1 - b1));
    const v = add(mul(state.v!, b2), mul(mul(grad, grad), 1 - b2));
    const stepDir = div(mul(m, scalars.stepSize!), add(sqrt(mul(v, scalars.bc2!)), eps));
    const decayed = decay ? mul(param, scalars.keep!) : param;
    return { param: sub(decayed, stepDir), state: { m, v } };
  },
};

const sgd: OptimizerRule<SgdConfig> = {
  slots: ['buf'],
  scalarNames: ['lr', 'keep'],
  scalars: ({ weightDecay }, _step, lr) => ({ lr, keep: 1 - lr * weightDecay }),
  update({ config: { momentum, nesterov }, param, grad, state, scalars, decay }) {
    const buf = add(mul(state.buf!, momentum), grad);
    const dir = nesterov ? add(grad, mul(buf, momentum)) : buf;
    const decayed = decay ? mul(param, scalars.keep!) : param;
    return { param: sub(decayed, mul(dir, scalars.lr!)), state: { buf } };
  },
};

export const optimizerRules = { adamw, sgd } satisfies {
  [K in OptimizerConfig['kind']]: OptimizerRule<Extract<OptimizerConfig, { kind: K }>>;
};

export function ruleFor(config: OptimizerConfig): OptimizerRule<OptimizerConfig> {
  return optimizerRules[config.kind] as OptimizerRule<OptimizerConfig>;
}

export const defaultAdamW = (over: Partial<Omit<AdamWConfig, 'kind'>> = {}): AdamWConfig => ({
  kind: 'adamw',
  betas: [0.9, 0.95],
  eps: 1e-8,
  weightDecay: 0.1,
  ...over,
});

export const defaultSgd = (over: Partial<Omit<SgdConfig, 'kind'>> = {}): SgdConfig => ({
  kind: 'sgd',
  momentum: 0.9,
  nesterov: false,
  weightDecay: 0,
  ...over,
});
