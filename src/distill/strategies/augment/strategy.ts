// Data augmentation by a teacher (LM): continuations of prompts sampled from the training text,
// generated with temperature / top-p, deduplicated (exact and n-gram near-duplicates), written to
// disk as JSONL with a manifest (a rerun reuses or continues the set), and mixed into the training
// batches at a set ratio. The mix wraps whatever source the run has (the plain text, or an offline
// step's labelled examples), so augmentation stacks with the other steps.
import { join } from 'node:path';
import { z } from 'zod';
import { createHash } from 'node:crypto';
import { Generator } from '../../../generate/index.ts';
import type { Tokenizer } from '../../../models/tokenizers/tokenizer.ts';
import type { Executor } from '../../../runtime/index.ts';
import { tokenWindows } from '../../trainer/index.ts';
import type { DistillContext, StageInfo, StageReport, TeacherEntry, TextGenerator } from '../context.ts';
import { localTeacher, pickTeachers } from '../context.ts';
import { rngAt } from '../examples.ts';
import { doc, posInt, samplingFields, teacherName } from '../fields.ts';
import { strategyRule } from '../rule.ts';
import type { GeneratedExample } from './examples-file.ts';
import { generateSet } from './generate.ts';
import { mixSources } from './mix.ts';

export const dedupeSchema = z
  .object({
    ngram: doc(posInt().default(5), 'Words per shingle for near-duplicate detection', 5),
    threshold: doc(
      z.number().gt(0).max(1).default(0.8),
      'Jaccard similarity of shingle sets at or above which a text is a near-duplicate',
      0.8,
    ),
  })
  .strict();

export const augmentSchema = z
  .object({
    kind: z.literal('augment'),
    teacher: doc(
      teacherName().optional(),
      'The teacher that writes (a Retort model, or any teacher given a generate function); default the first that can',
      'big',
    ),
    dir: doc(
      z.string().min(1).optional(),
      'Folder of the generated set (examples.jsonl, manifest.json); default {run dir}/augment',
      'runs/augment',
    ),
    count: doc(posInt().default(256), 'Generated texts to keep (after deduplication)', 256),
    ratio: doc(z.number().min(0).lt(1).default(0.5), 'Share of training rows taken from the generated text', 0.3),
    promptTokens: doc(posInt().default(16), 'Tokens of training text each prompt takes (from a random place)', 16),
    maxNewTokens: doc(posInt().default(64), 'Tokens generated per prompt', 64),
    ...samplingFields,
    batch: doc(posInt().default(8), 'Prompts per generation call', 8),
    maxAttempts: doc(
      posInt().optional(),
      'Stop after this many prompts even if fewer than count were kept; default 4 × count',
      1024,
    ),
    dedupe: doc(dedupeSchema.default({ ngram: 5, threshold: 0.8 }), 'How duplicates are found', {
      ngram: 5,
      threshold: 0.8,
    }),
    seed: doc(z.number().int().nonnegative().optional(), "Seeds prompts and sampling; default the run's seed", 0),
  })
  .strict();
export type AugmentConfig = z.output<typeof augmentSchema>;

/** A Retort teacher's text generator (src/generate, with its weights baked into the programs). */
export function retortGenerator(entry: TeacherEntry, executor?: Executor): TextGenerator {
  const local = entry.teacher.local;
  if (!local)
    throw new Error(
      `augment: teacher '${entry.name}' (${entry.teacher.kind}) has no weights here and no generate function; give its entry generate: (prompts, o) => ...`,
    );
  const gen = new Generator(local.model, local.params, executor ? { executor } : {});
  return async (prompts, o) =>
    (await gen.generate(prompts, { ...o, eosTokenId: local.model.config.eosTokenId ?? [] })).tokens;
}

/** The ids that separate generated texts in the training stream: the end-of-text token, else a blank line. */
function separator(tok: Tokenizer): number[] {
  return tok.eosId !== undefined ? [tok.eosId] : tok.encode('\n\n');
}

/** The kept examples as one token stream (prompt + text each, separated). */
export function generatedStream(examples: readonly GeneratedExample[], tok: Tokenizer): Int32Array {
  const sep = separator(tok);
  const ids: number[] = [];
  for (const e of examples) ids.push(...tok.encode((e.prompt ?? '') + e.text), ...sep);
  return Int32Array.from(ids);
}

export async function runAugment(ctx: DistillContext, c: AugmentConfig, stage: StageInfo): Promise<StageReport> {
  const tok = ctx.data.tokenizer;
  if (!tok)
    throw new Error(
      'augment: the run has no tokenizer; generated text is deduplicated as text, so pass data.tokenizer',
    );
  const entry = c.teacher
    ? pickTeachers(ctx, [c.teacher], 'augment')[0]!
    : (ctx.teachers.find((t) => t.generate) ?? localTeacher(ctx, undefined, 'augment'));
  const generate = entry.generate ?? retortGenerator(entry, ctx.settings.executor);
  const train = ctx.data.train;
  const seed = c.seed ?? ctx.settings.seed;
  if (train.length <= c.promptTokens)
    throw new RangeError(
      `augment: promptTokens ${c.promptTokens} is longer than the training text (${train.length} tokens)`,
    );
  const dir = c.dir ?? join(ctx.settings.dir, 'augment');
  const settings = {
    promptTokens: c.promptTokens,
    maxNewTokens: c.maxNewTokens,
    temperature: c.temperature,
    topP: c.topP,
    topK: c.topK,
    seed,
    dedupe: c.dedupe,
  };
  const identity = {
    teacher: entry.teacher.fingerprint,
    data: createHash('sha256')
      .update(new Uint8Array(train.buffer, train.byteOffset, train.byteLength))
      .digest('hex')
      .slice(0, 32),
    settings,
  };

  const set = await generateSet({
    dir,
    identity,
    count: c.count,
    maxAttempts: c.maxAttempts ?? 4 * c.count,
    batch: c.batch,
    dedupe: c.dedupe,
    propose: async (from, n) => {
      const prompts = Array.from({ length: n }, (_, k) => {
        const start = rngAt(seed, from + k, 0x617567).nextInt(train.length - c.promptTokens);
        return Array.from(train.subarray(start, start + c.promptTokens));
      });
      // Row r of this call samples with seed + from + r: attempt i always with seed + i.
      const out = await generate(prompts, {
        maxNewTokens: c.maxNewTokens,
        temperature: c.temperature,
        topP: c.topP,
        topK: c.topK,
        seed: seed + from,
      });
      return out.map((ids, k) => ({ prompt: tok.decode(prompts[k]!), text: tok.decode(ids) }));
    },
    onProgress: (m) =>
      ctx.hooks.log?.(
        `augment: kept ${m.kept}/${c.count} after ${m.attempts} prompts (dropped ${m.dropped.exact} exact, ${m.dropped.near} near duplicates)`,
      ),
  });
  const examples = set.examples.slice(0, c.count);
  const stream = generatedStream(examples, tok);
  const { seq } = ctx.settings;
  if (stream.length < seq + 1)
    throw new Error(
      `augment: the ${examples.length} kept texts make ${stream.length} tokens, fewer than one row of seq + 1 = ${seq + 1}; generate more (count, maxNewTokens)`,
    );
  const previous = ctx.source;
  ctx.source = (o) =>
    mixSources(previous(o), tokenWindows(stream, { batch: o.batch, ctx: o.seq, seed: o.seed + 1 }), c.ratio);
  ctx.sourceBy = stage.name;
  return {
    stage: stage.name,
    kind: 'augment',
    details: {
      dir,
      teacher: entry.name,
      kept: examples.length,
      attempts: set.manifest.attempts,
      dropped: set.manifest.dropped,
      tokens: stream.length,
      ratio: c.ratio,
    },
  };
}

export const augmentRule = strategyRule({
  schema: augmentSchema,
  cite: 'Teacher-generated training data (sequence-level KD, Kim & Rush 2016; LLM data augmentation), deduplicated and mixed at a ratio',
  role: 'prepare',
  run: runAugment,
});
