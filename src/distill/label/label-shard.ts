// One shard of an offline teacher pass: the teacher's top-k over the examples this shard owns,
// appended to its own store (src/distill/store's format; FORMAT.md) under root/shard-i-of-n/ by the
// labelling loop (store/label.ts labelInto). Every batch is committed before the next is asked
// for, so a run killed at any point (or stopped by the HTTP teacher's budget, or by its server
// going away) resumes at the first example not committed, and the store never holds an example
// twice. Shards are independent:
// run them in separate processes or machines, then mergeShards.
import { join } from 'node:path';
import type { Teacher } from '../../teachers/teacher.ts';
import { bytesPerToken, StoreWriter, type StoreIdentity, type StoreLayout } from '../store/index.ts';
import { datasetHash, labelInto, type TargetOptions, targetLayout, tokenizerHash } from '../store/label.ts';
import { shardDirName, shardRange, type ShardSpec } from './shard.ts';

export interface LabelShardOptions extends TargetOptions {
  teacher: Teacher;
  /** Every example of the dataset (equal lengths); the shard picks its range. */
  examples: readonly Int32Array[];
  shard: ShardSpec;
  topK: number;
  /** The run's root folder; this shard writes root/shard-i-of-n. */
  root: string;
  /** Examples per teacher call (default 8). */
  batch?: number;
  /** The tokenizer hash of the ids (default: of the teacher's tokenizer). */
  tokenizer?: string;
  /** The dataset hash, when the caller has it (default: computed over `examples`). */
  dataset?: string;
  onProgress?: (p: { done: number; total: number }) => void;
  /** Stop after the current batch commits. */
  signal?: AbortSignal;
  /** Thrown errors that mean "stop cleanly, resume later" (e.g. the HTTP budget): the run returns instead. */
  stopOn?: (err: unknown) => boolean;
}

export interface LabelShardResult {
  dir: string;
  /** Examples this shard owns, already committed before this run, and committed by it. */
  total: number;
  skipped: number;
  labelled: number;
  complete: boolean;
  /** Why the run stopped early (signal or a stopOn error's message). */
  stopped?: string;
  /** The store's layout and its record bytes per token (header included). */
  layout: StoreLayout;
  bytesPerToken: number;
}

export function identityOf(
  o: Pick<LabelShardOptions, 'teacher' | 'examples' | 'tokenizer' | 'dataset'>,
): StoreIdentity {
  const tok = o.tokenizer ?? (o.teacher.tokenizer ? tokenizerHash(o.teacher.tokenizer) : undefined);
  if (!tok)
    throw new Error(
      `labelShard: teacher '${o.teacher.name}' has no tokenizer; pass tokenizer (a hash of the vocabulary the ids are in, e.g. tokenizerHash(tok))`,
    );
  return { teacher: o.teacher.fingerprint, tokenizer: tok, dataset: o.dataset ?? datasetHash(o.examples) };
}

export async function labelShard(o: LabelShardOptions): Promise<LabelShardResult> {
  const seq = o.examples[0]?.length ?? 0;
  if (seq === 0 || o.examples.some((e) => e.length !== seq))
    throw new Error('labelShard: examples must be non-empty and all of one length (token windows)');
  if (o.examples.length < o.shard.count)
    throw new Error(
      `labelShard: ${o.examples.length} examples cannot fill ${o.shard.count} shards; use at most ${o.examples.length} shards`,
    );
  const [start, end] = shardRange(o.examples.length, o.shard);
  const total = end - start;
  const batch = o.batch ?? 8;
  const dir = join(o.root, shardDirName(o.shard));
  const writer = StoreWriter.open(
    dir,
    identityOf(o),
    { seq, ...targetLayout(o), vocabSize: o.teacher.info.vocabSize },
    {
      total,
      shard: { index: o.shard.index, of: o.shard.count },
      commitEvery: batch,
    },
  );
  const skipped = writer.count;
  let stopped: string | undefined;
  try {
    ({ stopped } = await labelInto(writer, o.teacher, o.examples.slice(start, end), {
      batch,
      first: start,
      signal: o.signal,
      stopOn: o.stopOn,
      onProgress: (done, all) => o.onProgress?.({ done, total: all }),
    }));
  } finally {
    writer.close();
  }
  return {
    dir,
    total,
    skipped,
    labelled: writer.count - skipped,
    complete: writer.count >= total,
    layout: writer.layout,
    bytesPerToken: bytesPerToken(writer.layout),
    ...(stopped ? { stopped } : {}),
  };
}
