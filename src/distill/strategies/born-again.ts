// Born-again networks (Furlanello et al. 2018): generation 1 learns from the data alone; generation
// k+1, the same architecture from a fresh initialization, learns from generation k's outputs. Each
// generation's validation metrics are reported; the student the run keeps is the last generation
// (or the best one on validation loss with keep: 'best').
import { join } from 'node:path';
import { z } from 'zod';
import { LocalTeacher } from '../../teachers/index.ts';
import { logitKdSchema } from '../losses/index.ts';
import type { DistillContext, StageInfo, StageReport, TeacherEntry } from './context.ts';
import { doc, posInt, stepsField, termSchema } from './fields.ts';
import { hardLabelObjective, kdTrainObjective, studentStart } from './kd.ts';
import { checkRebuilt } from './online.ts';
import { strategyRule } from './rule.ts';
import { copyParams, trainJob } from './train.ts';
import { ParamStore } from '../../runtime/index.ts';

export const bornAgainSchema = z
  .object({
    kind: z.literal('bornAgain'),
    generations: doc(
      z.number().int().min(2).default(3),
      'Generations in all: the first learns from the data, each later one from the one before',
      3,
    ),
    kd: doc(
      logitKdSchema.default({
        kind: 'logits',
        alpha: 1,
        temperature: 1,
        divergence: 'forwardKl',
        beta: 0.5,
        skew: 0.1,
        ignoreIndex: -100,
      }),
      "Each later generation's loss; the paper's is pure KD (alpha 1)",
      { kind: 'logits', alpha: 1, temperature: 1 },
    ),
    keep: doc(
      z.enum(['last', 'best']).default('last'),
      'Which generation the run keeps: the last, or the one with the lowest validation perplexity',
      'last',
    ),
    steps: stepsField(),
    stepsPerGeneration: doc(
      z.array(posInt()).optional(),
      'Steps of each generation, overriding steps',
      [400, 300, 300],
    ),
  })
  .strict();

export interface GenerationReport {
  generation: number;
  dir: string;
  /** Validation perplexity and next-token accuracy of the generation, when the run has validation text. */
  perplexity?: number;
  accuracy?: number;
  /** The training objective's first and last values (the KD term's, from generation 2 on). */
  first: number;
  last: number;
}

export async function runBornAgain(
  ctx: DistillContext,
  c: z.output<typeof bornAgainSchema>,
  stage: StageInfo,
): Promise<StageReport> {
  const { batch, seq, seed } = ctx.settings;
  const model = ctx.student.model;
  // Each later generation's teacher is the one before, rebuilt in the graph: it must be the student's architecture.
  checkRebuilt('bornAgain', model, ctx.student.rebuild());
  const generations: GenerationReport[] = [];
  let previous: ParamStore | undefined;
  let best: { perplexity: number; params: ParamStore } | undefined;
  for (let g = 1; g <= c.generations; g++) {
    const sub = { name: `${stage.name}/gen-${g}`, index: stage.index, dir: join(stage.dir, `gen-${g}`) };
    const steps = c.stepsPerGeneration?.[g - 1] ?? c.steps;
    let r;
    if (!previous) {
      r = await trainJob(ctx, {
        stage: sub,
        objective: hardLabelObjective(model, batch, seq),
        student: model,
        params: studentStart(ctx),
        steps,
        seed,
        config: { kind: 'bornAgain', generation: g },
      });
    } else {
      const teacher: TeacherEntry = {
        name: `gen${g - 1}`,
        teacher: new LocalTeacher(`gen${g - 1}`, model, previous, ctx.data.tokenizer),
        mode: 'in-graph',
        rebuild: ctx.student.rebuild,
      };
      const params = new ParamStore();
      const terms = [termSchema.parse({ name: 'kd', loss: c.kd })];
      const { objective, trainable } = kdTrainObjective(model, [teacher], terms, { batch, seq, params });
      // A fresh initialization per generation: the seed moves with it.
      r = await trainJob(ctx, {
        stage: sub,
        objective,
        trainable,
        student: model,
        params,
        steps,
        seed: seed + g - 1,
        config: { kind: 'bornAgain', generation: g, kd: c.kd, teacher: teacher.teacher.fingerprint },
      });
    }
    previous = copyParams(r.trainer.params, model.params.keys());
    const term = g === 1 ? 'ce' : 'kd';
    const values = r.history.map((h) => h.terms[term] ?? h.loss);
    generations.push({
      generation: g,
      dir: sub.dir,
      perplexity: r.eval?.perplexity,
      accuracy: r.eval?.accuracy,
      first: values[0] ?? NaN,
      last: values.at(-1) ?? NaN,
    });
    const ppl = r.eval?.perplexity;
    if (ppl !== undefined && (!best || ppl < best.perplexity)) best = { perplexity: ppl, params: previous };
  }
  ctx.student.params = c.keep === 'best' && best ? best.params : previous;
  return { stage: stage.name, kind: 'bornAgain', dir: stage.dir, details: { generations, kept: c.keep } };
}

export const bornAgainRule = strategyRule({
  schema: bornAgainSchema,
  cite: 'Born-Again Neural Networks (Furlanello et al. 2018): generation k+1, same architecture, distills from generation k',
  role: 'train',
  run: runBornAgain,
});
