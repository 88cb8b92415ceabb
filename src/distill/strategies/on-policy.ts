// On-policy distillation (GKD, Agarwal et al. 2024): with probability λ a step trains on the
// student's own generations instead of the dataset batch. Each row keeps the first `promptTokens`
// tokens of its dataset row as the prompt, and the student, with its current weights, samples the
// rest; the teachers score whatever ids come in (in-graph teachers read the batch's input_ids; fed
// ones are asked after this transform). Positions inside the prompt carry no label (−100), so the
// loss counts only what the student generated. GKD's default divergence is the generalized JSD, β = 0.5.
//
// Generation reuses its programs across steps: one Generator per training job, compiled once per
// shape, with the parameters fed as inputs on every run (not baked into the program), read from the
// trainer's live ParamStore. src/generate bakes parameters for onnxruntime; the executor wrapper
// below drops the initializers, which makes the runner feed them (it does so for executors that do not bake).
import { z } from 'zod';
import { Generator } from '../../generate/index.ts';
import { hostTensor, type CompileOptions, type Executor, type HostTensor, type ParamStore } from '../../runtime/index.ts';
import type { Batch } from '../trainer/index.ts';
import type { BatchInfo, BatchTransform } from './batches.ts';
import type { DistillContext, StageInfo, StageReport } from './context.ts';
import { rngAt } from './examples.ts';
import { doc, posInt, samplingFields } from './fields.ts';
import { strategyRule } from './rule.ts';

export const onPolicySchema = z
  .object({
    kind: z.literal('onPolicy'),
    lambda: doc(z.number().min(0).max(1).default(0.5), "Probability that a step's batch is the student's own generations (GKD's λ)", 0.5),
    promptTokens: doc(posInt().optional(), 'Tokens of each dataset row kept as the prompt; default half the row', 16),
    ...samplingFields,
    divergence: doc(z.enum(['forwardKl', 'reverseKl', 'jsd', 'skewKl', 'skewReverseKl']).default('jsd'), 'Divergence of the KD term the following training step uses by default', 'jsd'),
    beta: doc(z.number().min(0).max(1).default(0.5), "JSD's β (the teacher's share of the mixture)", 0.5),
    seed: doc(z.number().int().nonnegative().optional(), "Seeds the coin and the sampling; default the run's seed", 0),
  })
  .strict();
export type OnPolicyConfig = z.output<typeof onPolicySchema>;

/** An executor that leaves parameters as graph inputs, so a program reads new values on every run. */
export function feedParams(executor: Executor): Executor {
  return {
    name: `${executor.name} (parameters fed)`,
    compile: (outputs, opts) => executor.compile(outputs, { ...opts, initializers: undefined } as CompileOptions),
  };
}

export interface OnPolicyStats {
  /** Batches seen, and how many were replaced by the student's generations. */
  batches: number;
  generated: number;
}

/** The batch transform: a coin per batch index, then generation from the prompt prefixes. */
export function onPolicyTransform(c: OnPolicyConfig, seq: number, defaultSeed: number, stats: OnPolicyStats = { batches: 0, generated: 0 }): BatchTransform {
  const prompt = c.promptTokens ?? Math.max(1, Math.floor(seq / 2));
  if (prompt >= seq) throw new RangeError(`onPolicy: promptTokens ${prompt} leaves nothing to generate in rows of ${seq} tokens; use fewer than ${seq}`);
  const seed = c.seed ?? defaultSeed;
  const generators = new WeakMap<ParamStore, Generator>();
  const generatorFor = (info: BatchInfo): Generator => {
    let g = generators.get(info.student.params);
    if (!g) generators.set(info.student.params, (g = new Generator(info.student.model, info.student.params.values, { executor: feedParams(info.executor) })));
    return g;
  };
  return async (batch: Batch, info: BatchInfo): Promise<Batch> => {
    stats.batches++;
    if (c.lambda === 0 || rngAt(seed, info.index, 0x6b64).next() >= c.lambda) return batch;
    stats.generated++;
    const ids = batch.input_ids as HostTensor;
    const [b, t] = ids.shape as [number, number];
    if (t !== seq) throw new Error(`onPolicy: batch rows have ${t} tokens, the run ${seq}`);
    const src = ids.data as BigInt64Array;
    const prompts = Array.from({ length: b }, (_, r) => Array.from(src.subarray(r * t, r * t + prompt), Number));
    // The model sees at most maxPositions tokens: prompt + generated fill the row exactly.
    const out = await generatorFor(info).generate(prompts, {
      maxNewTokens: t - prompt, temperature: c.temperature, topP: c.topP, topK: c.topK, seed: (seed + info.index * b) >>> 0, eosTokenId: [],
    });
    const x = new BigInt64Array(b * t), y = new BigInt64Array(b * t).fill(-100n);
    for (let r = 0; r < b; r++) {
      const row = [...prompts[r]!, ...out.tokens[r]!];
      // A row that ended early (it cannot with no end token, but a generator may stop) is padded with its last token and unlabelled there.
      for (let p = 0; p < t; p++) x[r * t + p] = BigInt(row[Math.min(p, row.length - 1)]!);
      for (let p = prompt - 1; p < Math.min(row.length, t) - 1; p++) y[r * t + p] = BigInt(row[p + 1]!);
    }
    return { ...batch, input_ids: hostTensor('int64', [b, t], x), labels: hostTensor('int64', [b, t], y) };
  };
}

export async function runOnPolicy(ctx: DistillContext, c: OnPolicyConfig, stage: StageInfo): Promise<StageReport> {
  const stats: OnPolicyStats = { batches: 0, generated: 0 };
  ctx.transforms.push(onPolicyTransform(c, ctx.settings.seq, ctx.settings.seed, stats));
  const base = ctx.kdDefaults.loss as Record<string, unknown>;
  ctx.kdDefaults = { ...ctx.kdDefaults, loss: { ...base, alpha: 1, divergence: c.divergence, beta: c.beta } as never };
  return { stage: stage.name, kind: 'onPolicy', details: { lambda: c.lambda, stats } };
}

export const onPolicyRule = strategyRule({
  schema: onPolicySchema,
  cite: 'GKD (Agarwal et al. 2024): with probability λ the student trains on its own samples scored by the teacher; generalized JSD_β',
  role: 'prepare',
  run: runOnPolicy,
});
