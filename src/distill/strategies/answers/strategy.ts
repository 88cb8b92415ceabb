// Sequence-level KD (Kim & Rush 2016): the teacher writes answers to the task's prompts, and the
// student trains on them (with token-level KD on the answer tokens when a kd step follows). The
// answers go into an answer store keyed by prompt id (src/distill/answers): a rerun skips what is
// written, a killed run loses nothing, and a store of another teacher, tokenizer or settings is
// refused. Filters drop empty answers, answers cut at maxNewTokens, duplicates, and optionally
// answers that miss the reference.
import { join } from 'node:path';
import { z } from 'zod';
import { encodeRecords, promptOf, type Conversation } from '../../../data/task/index.ts';
import { chrF, normalizeAnswer } from '../../../data/task/metrics.ts';
import { AnswerStore, fillAnswerStore, filterAnswers } from '../../answers/index.ts';
import { tokenizerHash } from '../../store/label.ts';
import { taskBatches } from '../../trainer/index.ts';
import type { DistillContext, StageInfo, StageReport } from '../context.ts';
import { localTeacher, pickTeachers } from '../context.ts';
import { doc, posInt, samplingFields, teacherName } from '../fields.ts';
import { strategyRule } from '../rule.ts';
import { answerWriter, type AnswerSettings } from './writers.ts';

const matchSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: doc(
        z.literal('exact'),
        'Keep answers equal to the reference after normalization (lowercase, punctuation and extra spaces removed)',
      ),
    })
    .strict(),
  z
    .object({
      kind: doc(z.literal('chrF'), 'Keep answers whose chrF (Popović 2015) against the reference reaches min'),
      min: doc(z.number().min(0).max(100), 'Lowest chrF kept (0–100)', 60),
    })
    .strict(),
]);

export const teacherAnswersSchema = z
  .object({
    kind: z.literal('teacherAnswers'),
    teacher: doc(teacherName().optional(), "The teacher that writes; default the run's first teacher", 'big'),
    dir: doc(
      z.string().min(1).optional(),
      'Folder of the answer store; default {run dir}/{step}/answers',
      'runs/answers',
    ),
    n: doc(posInt().default(1), 'Answers written per prompt', 1),
    maxNewTokens: doc(
      posInt().default(64),
      'Longest answer in tokens; longer ones are cut (and dropped by the filter)',
      64,
    ),
    ...samplingFields,
    temperature: doc(z.number().nonnegative().default(0), '0: the most likely answer (greedy); above 0 samples', 0),
    batch: doc(posInt().default(16), 'Prompts per generation call', 16),
    seed: doc(z.number().int().nonnegative().optional(), "Seeds sampling; default the run's seed", 0),
    filter: doc(
      z
        .object({
          dropEmpty: doc(z.boolean().default(true), 'Drop empty answers', true),
          dropTruncated: doc(z.boolean().default(true), 'Drop answers cut at maxNewTokens', true),
          dedupe: doc(z.boolean().default(true), 'Keep one of identical answers to a prompt', true),
          match: doc(matchSchema.optional(), 'Where the data has references: keep only answers that match them', {
            kind: 'chrF',
            min: 60,
          }),
        })
        .strict()
        .default({ dropEmpty: true, dropTruncated: true, dedupe: true }),
      'Which written answers are trained on',
    ),
    references: doc(
      z.enum(['replace', 'keep']).default('replace'),
      "'replace': train on the teacher's answers only (sequence-level KD); 'keep': the data's reference answers as well",
      'replace',
    ),
  })
  .strict();
export type TeacherAnswersConfig = z.output<typeof teacherAnswersSchema>;

export async function runTeacherAnswers(
  ctx: DistillContext,
  c: TeacherAnswersConfig,
  stage: StageInfo,
): Promise<StageReport> {
  const task = ctx.data.task;
  const tok = ctx.data.tokenizer;
  if (!task || !tok)
    throw new Error(
      'teacherAnswers: needs task data (data.dataset: a .jsonl of prompts, with or without answers) and its tokenizer',
    );
  const entry = c.teacher
    ? pickTeachers(ctx, [c.teacher], 'teacherAnswers')[0]!
    : (ctx.teachers[0] ?? localTeacher(ctx, undefined, 'teacherAnswers'));
  const settings: AnswerSettings = {
    n: c.n,
    maxNewTokens: c.maxNewTokens,
    temperature: c.temperature,
    topP: c.topP,
    topK: c.topK,
    seed: c.seed ?? ctx.settings.seed,
  };
  const dir = c.dir ?? join(stage.dir, 'answers');
  const store = AnswerStore.open(dir, {
    teacher: entry.teacher.fingerprint,
    tokenizer: tokenizerHash(tok),
    settings: { ...settings },
  });
  const prompts = task.conversations.map((conv) => ({ id: conv.id, messages: promptOf(conv) }));
  const write = answerWriter(entry, tok, ctx.settings.executor);
  const started = Date.now();
  let lastLog = started;
  const skipped0 = prompts.filter((p) => store.has(p.id)).length;
  const filled = await fillAnswerStore(
    store,
    prompts.map((p) => ({ id: p.id, ids: [] })),
    async (batch) => {
      const byId = new Map(prompts.map((p) => [p.id, p]));
      return write(
        batch.map((b) => byId.get(b.id)!),
        settings,
      );
    },
    {
      batch: c.batch,
      // A line every 10 s (and at the end), with the rate and the time left.
      onProgress: (done, total) => {
        const now = Date.now();
        if (done < total && now - lastLog < 10_000) return;
        lastLog = now;
        const s = (now - started) / 1000,
          rate = (done - skipped0) / Math.max(s, 1e-3);
        const eta = done < total && rate > 0 ? `, ETA ${Math.ceil((total - done) / rate)} s` : '';
        ctx.hooks.log?.(
          `teacherAnswers: ${done}/${total} prompts answered by '${entry.name}' (${s.toFixed(0)} s, ${rate.toFixed(0)} prompts/s${eta})`,
        );
      },
    },
  );

  const kept: Conversation[] = [];
  const dropped: Record<string, number> = {};
  for (const conv of task.conversations) {
    const answers = store.get(conv.id) ?? [];
    const f = filterAnswers(answers, {
      dropEmpty: c.filter.dropEmpty,
      dropTruncated: c.filter.dropTruncated,
      dedupe: c.filter.dedupe,
      ...(c.filter.match && conv.reference !== undefined && { reference: conv.reference, match: c.filter.match }),
      normalize: normalizeAnswer,
      score: chrF,
    });
    for (const [why, count] of Object.entries(f.dropped)) dropped[why] = (dropped[why] ?? 0) + count;
    f.kept.forEach((a, k) =>
      kept.push({
        ...conv,
        id: `${conv.id}#t${k}`,
        messages: [...promptOf(conv), { role: 'assistant', content: a.text }],
      }),
    );
    if (c.references === 'keep' && conv.reference !== undefined) kept.push(conv);
  }
  const { examples, counts } = encodeRecords(tok, kept, task.encode);
  if (examples.length === 0)
    throw new Error(
      `teacherAnswers: no answer was kept (dropped: ${JSON.stringify(dropped)}); loosen filter, raise maxNewTokens, or check the teacher`,
    );
  ctx.data.task = {
    ...task,
    train: examples,
    counts: { ...task.counts, teacherAnswers: { ...counts, dropped: counts.dropped, filtered: dropped } },
  };
  ctx.source = ({ batch, seq, seed }) =>
    taskBatches(examples, { batch, seq, seed, packed: task.packed, padId: task.padId });
  ctx.sourceBy = stage.name;
  ctx.hooks.log?.(
    `teacherAnswers: ${examples.length} training examples from ${store.size} answered prompts (generated ${filled.generated}, reused ${filled.skipped}; filtered ${JSON.stringify(dropped)})`,
  );
  return {
    stage: stage.name,
    kind: 'teacherAnswers',
    details: {
      dir,
      teacher: entry.name,
      prompts: prompts.length,
      generated: filled.generated,
      reused: filled.skipped,
      examples: examples.length,
      filtered: dropped,
      fit: counts,
    },
  };
}

export const teacherAnswersRule = strategyRule({
  schema: teacherAnswersSchema,
  cite: 'Sequence-level KD (Kim & Rush 2016): the teacher answers the prompts and the student learns its answers',
  role: 'prepare',
  run: runTeacherAnswers,
});
