// From a run configuration file to a DistillContext's pieces: the `distill` section's schema
// (teachers + strategy; pass it as loadRunConfig's `distill` option so its errors read like the
// rest), the run settings from the file's training fields, and the teachers. Retort teachers (a
// Hugging Face folder) load here; ONNX and HTTP teachers come from resolvers the caller passes,
// which receive their config entry as written.
import { resolve } from 'node:path';
import { z } from 'zod';
import { families, loadHfModel } from '../../models/hf/index.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import type { Executor } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import { ConfigError, nestedIssues, optimizerOf, type LoadedRunConfig } from '../config/index.ts';
import type { RunSettings, TeacherEntry } from './context.ts';
import { doc } from './fields.ts';
import { parseDistillConfig, type DistillConfig } from './pipeline.ts';
import { resolveSourcePaths, teacherResolvers, teacherSourceSchema, type TeacherResolver } from './teacher-source.ts';

/** Where the strategy sits in a run config: its errors are worded with these paths. */
const STRATEGY_PATH = ['distill', 'strategy'];

export const teacherConfigSchema = z
  .object({
    name: doc(
      z.string().regex(/^[A-Za-z][\w-]*$/, { error: 'a name of letters, digits, _ and -, starting with a letter' }),
      'Names the teacher in loss terms, metrics and store folders',
      'big',
    ),
    source: doc(teacherSourceSchema, 'Where the teacher comes from', { kind: 'retort', hfDir: 'models/teacher' }),
    mode: doc(
      z.enum(['in-graph', 'fed']).optional(),
      "'in-graph': traced into the training step with frozen weights (Retort teachers only); 'fed': its outputs are fed each step. Default in-graph for Retort teachers, fed otherwise",
      'in-graph',
    ),
  })
  .strict();
export type TeacherConfig = z.output<typeof teacherConfigSchema>;

/** The `distill` section of a run config. */
export const distillSectionSchema = z
  .object({
    teachers: doc(z.array(teacherConfigSchema).default([]), 'The teachers of the run', [
      { name: 'big', source: { kind: 'retort', hfDir: 'models/teacher' } },
    ]),
    // Checked by parseDistillConfig, step by step, so an error inside a pipeline's step names that step's fields.
    strategy: doc(
      z.unknown().transform((value, ctx): DistillConfig => {
        try {
          return parseDistillConfig(value, 'distill config', STRATEGY_PATH);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          for (const issue of nestedIssues(err, STRATEGY_PATH)) ctx.addIssue(issue);
          return z.NEVER;
        }
      }),
      'The strategy (kind and settings), or {kind: pipeline, steps: [...]}',
      { kind: 'kd' },
    ),
  })
  .strict();
export type DistillSection = z.output<typeof distillSectionSchema>;

export async function resolveTeachers(
  configs: readonly TeacherConfig[],
  o: {
    /** Loaders by source kind, in place of the built-in ones (teacherResolvers). */
    resolvers?: Partial<Record<'onnx' | 'http', TeacherResolver>>;
    tokenizer?: Tokenizer;
    executor?: Executor;
    /** Folder relative paths start from: the config file's (default the working directory). */
    baseDir?: string;
  } = {},
): Promise<TeacherEntry[]> {
  const baseDir = o.baseDir ?? process.cwd();
  const out: TeacherEntry[] = [];
  for (const c of configs) {
    const src = c.source;
    if (src.kind === 'retort') {
      const loaded = loadHfModel(resolve(baseDir, src.hfDir as string), { task: 'causal-lm' });
      if (loaded.task !== 'causal-lm') throw new Error(`teacher '${c.name}': ${src.hfDir} is not a causal LM`);
      const family = families[loaded.family];
      const rebuild = () => family.create(loaded.config as never);
      out.push({
        name: c.name,
        teacher: new LocalTeacher(c.name, loaded.model, loaded.params, o.tokenizer, o.executor),
        mode: c.mode ?? 'in-graph',
        rebuild,
      });
      continue;
    }
    const load = o.resolvers?.[src.kind] ?? teacherResolvers[src.kind];
    if (c.mode === 'in-graph')
      throw new Error(`teacher '${c.name}': an ${src.kind} teacher cannot run in-graph; use mode 'fed'`);
    out.push({
      name: c.name,
      teacher: await load(resolveSourcePaths(src, baseDir), {
        name: c.name,
        tokenizer: o.tokenizer,
        executor: o.executor,
        baseDir,
      }),
      mode: 'fed',
    });
  }
  return out;
}

/** The run settings from a run config's training fields (model and data are the caller's to build). */
export function settingsFromRunConfig(c: LoadedRunConfig<unknown>): Omit<RunSettings, 'executor'> {
  return {
    dir: c.checkpoint.dir,
    steps: c.steps,
    batch: c.data.batchSize,
    seq: c.data.seqLen,
    schedule: { lr: c.optimizer.lr, ...c.schedule },
    optimizer: optimizerOf(c),
    clipNorm: c.clipNorm || undefined,
    balance: c.balance === 'auto' ? { mode: 'auto' } : undefined,
    accumulate: c.accumulate,
    evalEvery: c.eval.every,
    evalBatches: c.eval.batches,
    monitor: { metric: c.eval.monitor, mode: c.eval.mode, patience: c.eval.patience, minDelta: c.eval.minDelta },
    checkpoint: { every: c.checkpoint.every, keep: c.checkpoint.keep },
    seed: c.seed,
    threads: c.threads,
    lossChunk: c.lossChunk,
  };
}
