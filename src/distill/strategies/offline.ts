// Offline distillation: label the training examples with the teacher once, into a store (resumable:
// a rerun continues from the store's committed count), then train from the store as a fed teacher.
// The held-out rows are labelled into a second store beside it, so evaluation needs no live teacher
// either. A store written by another teacher, tokenizer or dataset is refused (labelDataset and
// StoreReader check its identity). Rows no store holds (on-policy generations, augmented text) are
// scored by the live teacher that labelled them, when `fallback` is on.
import { join } from 'node:path';
import { z } from 'zod';
import {
  bytesPerToken,
  DEFAULT_SAMPLES,
  datasetHash,
  labelDataset,
  StoreReader,
  StoreTeacher,
  storeEncodings,
  targetKinds,
  tokenizerHash,
  type StoreIdentity,
} from '../store/index.ts';
import type { DistillContext, StageInfo, StageReport, TeacherEntry } from './context.ts';
import { pickTeachers } from './context.ts';
import { exampleSource, windowExamples } from './examples.ts';
import { doc, nonNegInt, posInt, teacherName } from './fields.ts';
import { OfflineTeacher } from './offline-teacher.ts';
import { strategyRule } from './rule.ts';
import { heldOut } from './train.ts';

export const offlineSchema = z
  .object({
    kind: z.literal('offline'),
    teachers: doc(
      z.array(teacherName()).min(1).optional(),
      'The teachers to label with (each into its own store); default all',
      ['big'],
    ),
    dir: doc(
      z.string().min(1).optional(),
      'Store folder (one teacher) or parent of one folder per teacher; default {run dir}/store-{teacher}',
      'stores/big',
    ),
    topK: doc(posInt().default(20), "How many of the teacher's most likely tokens each position keeps", 20),
    targets: doc(
      z.enum(targetKinds).default('topk'),
      "What each position keeps: 'topk', the teacher's topK most likely tokens and their log-probs; 'sampled', `samples` tokens drawn from the teacher's distribution, weighted count / samples (Sparse Logit Sampling, Anshumann et al. 2025): an unbiased estimate of the teacher, so the forward-KL gradient is unbiased. 'sampled' needs a teacher that returns logits, and KD terms at temperature 1 with divergence forwardKl",
      'sampled',
    ),
    samples: doc(
      posInt().default(DEFAULT_SAMPLES),
      "For targets 'sampled': draws per position (up to this many distinct tokens are kept; the KD term's topK becomes this)",
      12,
    ),
    seed: doc(
      nonNegInt().default(0),
      "For targets 'sampled': seed of the draws (each example and position has its own stream, so shards and reruns agree)",
      0,
    ),
    encoding: doc(
      z.enum(storeEncodings).default('compact'),
      "Record encoding: 'compact' (fp16 log-probs, ids in ceil(log2 V) bits, each position's tail mass: 87 bytes per token at k 20, V 151936) or 'f32' (int32 ids and float32 log-probs, 8 bytes per entry, no tail; what stores before version 2 hold)",
      'compact',
    ),
    hidden: doc(
      z.array(nonNegInt()).optional(),
      'Hidden states to store too, by index (0 = embeddings), for hidden-state terms',
      [2],
    ),
    stride: doc(posInt().optional(), 'Tokens between the starts of consecutive examples; default seq (no overlap)', 32),
    maxExamples: doc(posInt().optional(), 'Label at most this many examples (the first ones)', 4096),
    labelBatch: doc(posInt().default(16), 'Examples per teacher call while labelling', 16),
    fallback: doc(
      z.boolean().default(true),
      'Score rows the store lacks (on-policy generations) with the live teacher that labelled it',
      true,
    ),
  })
  .strict();
export type OfflineConfig = z.output<typeof offlineSchema>;

/** The held-out rows the trainer evaluates on, as examples (labelled too, so evaluation needs no live teacher). */
function heldOutRows(ctx: DistillContext): Int32Array[] {
  const rows: Int32Array[] = [];
  for (const b of heldOut(ctx)?.batches() ?? []) {
    const ids = b.input_ids!;
    const [n, t] = ids.shape as [number, number];
    for (let r = 0; r < n; r++)
      rows.push(Int32Array.from((ids.data as BigInt64Array).subarray(r * t, (r + 1) * t), Number));
  }
  return rows;
}

interface Labelled {
  dir: string;
  labelled: number;
  skipped: number;
  /** Record bytes per token of the store (header included). */
  bytesPerToken: number;
}

export async function runOffline(ctx: DistillContext, c: OfflineConfig, stage: StageInfo): Promise<StageReport> {
  const chosen = pickTeachers(ctx, c.teachers, 'offline');
  if (chosen.length === 0) throw new Error('offline: the run has no teachers to label with; add one');
  if (ctx.sourceBy && !ctx.sourceBy.endsWith('-offline')) {
    throw new Error(
      `offline: ${ctx.sourceBy} already changed the training data, and the store would replace it with the plain text's examples; put offline before ${ctx.sourceBy} (its rows are then scored by the live teacher)`,
    );
  }
  const { seq } = ctx.settings;
  const train = ctx.data.train;
  const windows = windowExamples(train, seq, { stride: c.stride, max: c.maxExamples });
  const evalRows = heldOutRows(ctx);
  const tokenizer = ctx.data.tokenizer ? tokenizerHash(ctx.data.tokenizer) : 'none';
  const stores: Record<string, Labelled & { heldOut?: Labelled }> = {};
  for (const entry of chosen) {
    const dir = c.dir
      ? chosen.length > 1
        ? join(c.dir, entry.name)
        : c.dir
      : join(ctx.settings.dir, `store-${entry.name}`);
    const label = async (examples: Int32Array[], into: string, what: string) => {
      const identity: StoreIdentity = { teacher: entry.teacher.fingerprint, tokenizer, dataset: datasetHash(examples) };
      const r = await labelDataset(entry.teacher, examples, into, {
        topK: c.topK,
        targets: c.targets,
        samples: c.samples,
        seed: c.seed,
        encoding: c.encoding,
        hidden: c.hidden,
        batch: c.labelBatch,
        tokenizer,
        onProgress: (done, total) => ctx.hooks.log?.(`offline: '${entry.name}' labelled ${done}/${total} ${what}`),
      });
      const reader = new StoreReader(into, identity);
      return {
        labelled: { dir: into, ...r, bytesPerToken: bytesPerToken(reader.layout) },
        store: { store: new StoreTeacher(entry.name, reader, examples, identity), examples },
      };
    };
    const main = await label(windows.inputs, dir, 'training examples');
    const parts = [main.store];
    stores[entry.name] = main.labelled;
    if (evalRows.length > 0) {
      const held = await label(evalRows, `${dir}-heldout`, 'held-out rows');
      parts.push(held.store);
      stores[entry.name]!.heldOut = held.labelled;
    }
    const served = new OfflineTeacher(parts, c.fallback ? entry.teacher : undefined);
    const replaced: TeacherEntry = { name: entry.name, teacher: served, mode: 'fed', generate: entry.generate };
    ctx.teachers[ctx.teachers.indexOf(entry)] = replaced;
  }
  // Training now reads exactly the labelled examples.
  ctx.source = ({ batch, seed }) => exampleSource(train, windows, { batch, seed });
  ctx.sourceBy = stage.name;
  const { kind: _k, ...rest } = ctx.kdDefaults.loss as { kind: string };
  // Sampled stores hold `samples` slots per position, and a term must read them all.
  ctx.kdDefaults = { loss: { ...(rest as object), kind: 'topk' }, topK: c.targets === 'sampled' ? c.samples : c.topK };
  return {
    stage: stage.name,
    kind: 'offline',
    details: { examples: windows.inputs.length, heldOut: evalRows.length, stores },
  };
}

export const offlineRule = strategyRule({
  schema: offlineSchema,
  cite: 'Offline KD: teacher outputs computed once and reused (sparse top-k targets, as in cached-logit distillation)',
  role: 'prepare',
  run: runOffline,
});
