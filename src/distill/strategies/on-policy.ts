// On-policy distillation (GKD, Agarwal et al. 2024): with probability λ a step trains on the
// student's own generations instead of the dataset batch. On text, each row keeps the first
// `promptTokens` tokens of its dataset row as the prompt, and the student, with its current
// weights, samples the rest; on task data (prompts with answers) the student answers each row's
// prompt under the chat template, stopping at an end-of-turn token; the teachers score whatever ids come in (in-graph teachers read the batch's input_ids; fed
// ones are asked after this transform). Positions inside the prompt carry no label (−100), so the
// loss counts only what the student generated. GKD's default divergence is the generalized JSD, β = 0.5.
//
// Generation reuses its programs across steps: one Generator per training job, compiled once per
// shape, with the parameters fed as inputs on every run (not baked into the program), read from the
// trainer's live ParamStore. src/generate bakes parameters for onnxruntime; the executor wrapper
// below drops the initializers, which makes the runner feed them (it does so for executors that do not bake).
import { z } from 'zod';
import { endOfTurnIds } from '../../data/task/index.ts';
import { Generator } from '../../generate/index.ts';
import {
  hostTensor,
  type CompileOptions,
  type Executor,
  type HostTensor,
  type ParamStore,
} from '../../runtime/index.ts';
import type { Batch } from '../trainer/index.ts';
import type { BatchInfo, BatchTransform } from './batches.ts';
import type { DistillContext, StageInfo, StageReport } from './context.ts';
import { rngAt } from './examples.ts';
import { doc, posInt, samplingFields } from './fields.ts';
import { strategyRule } from './rule.ts';

export const onPolicySchema = z
  .object({
    kind: z.literal('onPolicy'),
    lambda: doc(
      z.number().min(0).max(1).default(0.5),
      "Probability that a step's batch is the student's own generations (GKD's λ)",
      0.5,
    ),
    promptTokens: doc(posInt().optional(), 'Tokens of each dataset row kept as the prompt; default half the row', 16),
    ...samplingFields,
    divergence: doc(
      z.enum(['forwardKl', 'reverseKl', 'jsd', 'skewKl', 'skewReverseKl']).default('jsd'),
      'Divergence of the KD term the following training step uses by default',
      'jsd',
    ),
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

/**
 * Task batches (prompts with answers, right-padded with an attention_mask): each row's prompt is
 * everything before its first labelled position; the student answers it, stopping at an
 * end-of-turn token or the row's end, and only the answer it sampled (with its end-of-turn
 * token) is labelled.
 */
async function answerRows(
  batch: Batch,
  generate: (prompts: number[][], maxNewTokens: number) => Promise<number[][]>,
  eot: ReadonlySet<number>,
): Promise<Batch> {
  const ids = batch.input_ids as HostTensor;
  const [b, t] = ids.shape as [number, number];
  const src = ids.data as BigInt64Array,
    labels = batch.labels!.data as BigInt64Array,
    mask = batch.attention_mask!.data as BigInt64Array;
  const prompts: number[][] = [];
  for (let r = 0; r < b; r++) {
    let first = 0;
    while (first < t && labels[r * t + first] === -100n && mask[r * t + first] === 1n) first++;
    // An empty row (padding only) keeps a one-token prompt; its answer is never labelled.
    prompts.push(Array.from(src.subarray(r * t, r * t + Math.max(1, Math.min(first + 1, t - 1))), Number));
  }
  const longest = Math.max(...prompts.map((p) => p.length));
  // A row holds prompt and answer within T tokens (the model's positions bound them too).
  const out = await generate(prompts, Math.max(1, t - longest));
  const x = new BigInt64Array(b * t).fill(src[0] ?? 0n),
    y = new BigInt64Array(b * t).fill(-100n),
    m = new BigInt64Array(b * t);
  for (let r = 0; r < b; r++) {
    const real = mask[r * t] === 1n;
    const gen = out[r]!;
    const end = gen.findIndex((tok) => eot.has(tok));
    const answer = end >= 0 ? gen.slice(0, end + 1) : gen;
    const row = [...prompts[r]!, ...answer].slice(0, t + 1);
    for (let p = 0; p < Math.min(row.length, t); p++) {
      x[r * t + p] = BigInt(row[p]!);
      m[r * t + p] = real ? 1n : 0n;
      if (real && p >= prompts[r]!.length - 1 && p + 1 < row.length) y[r * t + p] = BigInt(row[p + 1]!);
    }
  }
  return {
    ...batch,
    input_ids: hostTensor('int64', [b, t], x),
    labels: hostTensor('int64', [b, t], y),
    attention_mask: hostTensor('int64', [b, t], m),
  };
}

/** The batch transform: a coin per batch index, then generation from the prompt prefixes (or, for task batches, answers to their prompts). */
export function onPolicyTransform(
  c: OnPolicyConfig,
  seq: number,
  defaultSeed: number,
  stats: OnPolicyStats = { batches: 0, generated: 0 },
  endOfTurn?: ReadonlySet<number>,
): BatchTransform {
  const prompt = c.promptTokens ?? Math.max(1, Math.floor(seq / 2));
  if (prompt >= seq)
    throw new RangeError(
      `onPolicy: promptTokens ${prompt} leaves nothing to generate in rows of ${seq} tokens; use fewer than ${seq}`,
    );
  const seed = c.seed ?? defaultSeed;
  const generators = new WeakMap<ParamStore, Generator>();
  const generatorFor = (info: BatchInfo): Generator => {
    let g = generators.get(info.student.params);
    if (!g)
      generators.set(
        info.student.params,
        (g = new Generator(info.student.model, info.student.params.values, { executor: feedParams(info.executor) })),
      );
    return g;
  };
  return async (batch: Batch, info: BatchInfo): Promise<Batch> => {
    stats.batches++;
    if (c.lambda === 0 || rngAt(seed, info.index, 0x6b64).next() >= c.lambda) return batch;
    stats.generated++;
    if (batch.attention_mask && endOfTurn) {
      const gen = generatorFor(info);
      return answerRows(
        batch,
        async (prompts, maxNewTokens) =>
          (
            await gen.generate(prompts, {
              maxNewTokens,
              temperature: c.temperature,
              topP: c.topP,
              topK: c.topK,
              seed: (seed + info.index * prompts.length) >>> 0,
              eosTokenId: [...endOfTurn],
            })
          ).tokens,
        endOfTurn,
      );
    }
    const ids = batch.input_ids as HostTensor;
    const [b, t] = ids.shape as [number, number];
    if (t !== seq) throw new Error(`onPolicy: batch rows have ${t} tokens, the run ${seq}`);
    const src = ids.data as BigInt64Array;
    const prompts = Array.from({ length: b }, (_, r) => Array.from(src.subarray(r * t, r * t + prompt), Number));
    // The model sees at most maxPositions tokens: prompt + generated fill the row exactly.
    const out = await generatorFor(info).generate(prompts, {
      maxNewTokens: t - prompt,
      temperature: c.temperature,
      topP: c.topP,
      topK: c.topK,
      seed: (seed + info.index * b) >>> 0,
      eosTokenId: [],
    });
    const x = new BigInt64Array(b * t),
      y = new BigInt64Array(b * t).fill(-100n);
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
  const task = ctx.data.task;
  if (task?.packed)
    throw new Error('onPolicy: the student answers one prompt per row; turn data.packing off for on-policy steps');
  let endOfTurn: Set<number> | undefined;
  if (task) {
    if (!ctx.data.tokenizer)
      throw new Error('onPolicy: task data needs its tokenizer (the end-of-turn tokens end the sampled answers)');
    endOfTurn = endOfTurnIds(ctx.data.tokenizer);
    const eos = ctx.student.model.config.eosTokenId;
    for (const e of eos === undefined ? [] : Array.isArray(eos) ? eos : [eos]) endOfTurn.add(e);
  }
  ctx.transforms.push(onPolicyTransform(c, ctx.settings.seq, ctx.settings.seed, stats, endOfTurn));
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
