// Deep-to-shallow self-distillation ("Be Your Own Teacher", Zhang et al. 2019): intermediate blocks
// get exit heads that predict the next token from their hidden state, each trained with
// (1 − α)·CE + α·T²·KL(stopGradient(p_final^T) ‖ p_exit^T): the model's own final layer is the
// teacher of its shallower parts. The final layer trains on CE. An exit head is either the model's
// own final norm and LM head applied to hidden[i] ('shared'), or a small new head per exit ('new').
// (The paper's feature-hint L2 term between exit and final features is not included.)
import { z } from 'zod';
import { crossEntropy, input, matmul, reshape, stopGradient, withParamPrefix, type Tensor } from '../../graph/index.ts';
import type { Gpt2 } from '../../models/gpt2/model.ts';
import { familyOf, type FamilyName } from '../../models/hf/index.ts';
import type { Llama } from '../../models/llama/index.ts';
import type { DecoderModel } from '../../models/types.ts';
import { LayerNorm, Linear, type Module } from '../../nn/index.ts';
import { combineLosses, logitKdLoss, lossWeightInputs } from '../losses/index.ts';
import type { DistillContext, StageInfo, StageReport } from './context.ts';
import { doc, posInt, stepsField } from './fields.ts';
import { studentStart } from './kd.ts';
import { strategyRule } from './rule.ts';
import { copyParams, trainJob, type JobObjective } from './train.ts';

export const deepToShallowSchema = z
  .object({
    kind: z.literal('deepToShallow'),
    exits: doc(
      z.array(posInt()).min(1).optional(),
      'Blocks (1-based) whose output gets an exit head, each below the last block; default every block but the last',
      [1, 2],
    ),
    head: doc(
      z.enum(['shared', 'new']).default('shared'),
      "'shared': the model's final norm and (tied) LM head applied to the block's output; 'new': a fresh norm + linear head per exit",
      'shared',
    ),
    alpha: doc(
      z.number().min(0).max(1).default(0.5),
      "Share of each exit's loss that is KD from the final layer (the rest is CE)",
      0.5,
    ),
    temperature: doc(
      z.number().positive().default(1),
      'Softmax temperature of the exits’ KD terms (the paper uses 3)',
      3,
    ),
    exitWeight: doc(z.number().nonnegative().default(1), 'Weight of each exit’s loss next to the final layer’s CE', 1),
    steps: stepsField(),
  })
  .strict();

/** The model's own final norm + LM head, applied to any hidden state (B, T, C) → logits (B, T, V): one row per family. */
const finalHeads = {
  gpt2: (m: DecoderModel) => {
    const g = m as Gpt2;
    return { norm: g.lnF, head: g.lmHead, embedding: g.wte.weight };
  },
  llama: (m: DecoderModel) => {
    const l = m as Llama;
    return { norm: l.norm, head: l.lmHead, embedding: l.embed.weight };
  },
} satisfies Record<
  FamilyName,
  (m: DecoderModel) => { norm: { forward(x: Tensor): Tensor }; head?: Linear; embedding: Tensor }
>;

function sharedHead(model: DecoderModel): (h: Tensor) => Tensor {
  const { norm, head, embedding } = finalHeads[familyOf(model as never)](model);
  return (h) => {
    const [b, t, c] = h.shape as [number, number, number];
    const x = norm.forward(h); // (B, T, C)
    return head
      ? head.forward(x)
      : reshape(matmul(reshape(x, [b * t, c]), embedding, { transB: true }), [b, t, model.config.vocabSize]); // (B, T, V)
  };
}

class NewExitHead {
  readonly norm: LayerNorm;
  readonly head: Linear;
  constructor(block: number, dim: number, vocab: number) {
    [this.norm, this.head] = withParamPrefix(
      `exit.${block}.`,
      () => [new LayerNorm('ln', dim), new Linear('head', dim, vocab, { bias: false })] as const,
    );
  }
  forward(h: Tensor): Tensor {
    return this.head.forward(this.norm.forward(h)); // (B, T, V)
  }
  get modules(): Module[] {
    return [this.norm, this.head];
  }
}

export async function runDeepToShallow(
  ctx: DistillContext,
  c: z.output<typeof deepToShallowSchema>,
  stage: StageInfo,
): Promise<StageReport> {
  const model = ctx.student.model;
  const n = model.config.nLayers;
  if (n < 2)
    throw new Error(
      `deepToShallow: the student has ${n} block; exits sit below the last block, so it needs at least 2`,
    );
  const exits = c.exits ?? Array.from({ length: n - 1 }, (_, i) => i + 1);
  for (const e of exits)
    if (e >= n)
      throw new Error(
        `deepToShallow: exits holds block ${e}, but exits must be below the last block (1..${n - 1} for this ${n}-block student)`,
      );
  const { batch, seq } = ctx.settings;
  const kd = {
    alpha: c.alpha,
    temperature: c.temperature,
    divergence: 'forwardKl' as const,
    beta: 0.5,
    skew: 0.1,
    ignoreIndex: -100,
  };
  const newHeads =
    c.head === 'new'
      ? new Map(exits.map((e) => [e, new NewExitHead(e, model.config.dModel, model.config.vocabSize)]))
      : undefined;
  const shared = sharedHead(model);

  const objective = (mode: { train: boolean }): JobObjective => {
    const ids = input('input_ids', [batch, seq], 'int64'); // (B, T)
    const labels = input('labels', [batch, seq], 'int64');
    const out = model.forward(ids, { train: mode.train });
    const target = stopGradient(out.logits); // the final layer teaches; its own gradient comes from CE only
    const weighted: Record<string, Tensor> = { 'final.ce': crossEntropy(out.logits, labels) };
    const parts: Record<string, Tensor> = {};
    for (const e of exits) {
      const logits = newHeads ? newHeads.get(e)!.forward(out.hidden[e]!) : shared(out.hidden[e]!);
      const r = logitKdLoss({ student: logits, teacher: target, labels }, kd);
      weighted[`exit.${e}`] = r.loss;
      for (const [k, v] of Object.entries(r.parts)) parts[`exit.${e}/${k}`] = v;
    }
    const { total } = combineLosses(weighted, lossWeightInputs(Object.keys(weighted)));
    return { total, terms: { ...weighted, ...parts }, predictions: { logits: out.logits, labels } };
  };
  const r = await trainJob(ctx, {
    stage,
    objective,
    student: model,
    params: studentStart(ctx),
    steps: c.steps,
    weight: (name) => (name.startsWith('exit.') ? c.exitWeight : 1),
    config: {
      kind: 'deepToShallow',
      exits,
      head: c.head,
      alpha: c.alpha,
      temperature: c.temperature,
      exitWeight: c.exitWeight,
    },
  });
  ctx.student.params = copyParams(r.trainer.params, model.params.keys());
  const exitLoss = (rec: { terms: Record<string, number> } | undefined) =>
    Object.fromEntries(exits.map((e) => [e, rec?.terms[`exit.${e}`] ?? NaN]));
  return {
    stage: stage.name,
    kind: 'deepToShallow',
    dir: stage.dir,
    summary: r.summary,
    eval: r.eval,
    details: {
      exits,
      head: c.head,
      firstExitLoss: exitLoss(r.history[0]),
      lastExitLoss: exitLoss(r.history.at(-1)),
      exitParams: newHeads ? [...newHeads.values()].flatMap((h) => h.modules.flatMap((m) => [...m.params.keys()])) : [],
    },
  };
}

export const deepToShallowRule = strategyRule({
  schema: deepToShallowSchema,
  cite: 'Be Your Own Teacher (Zhang et al. 2019): exits at intermediate blocks distill from the final layer (KD from stopGradient(final logits) + CE)',
  role: 'train',
  run: runDeepToShallow,
});
