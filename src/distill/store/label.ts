// Runs a teacher over a dataset's examples once and appends its targets (top-k or sampled, as the
// store's layout says; targets.ts) and chosen hidden states to a store. Rerunning after a crash
// continues from the store's committed count.
import { createHash } from 'node:crypto';
import { hostTensor } from '../../runtime/index.ts';
import type { Teacher } from '../../teachers/index.ts';
import type { StoreEncoding, StoreIdentity, StoreLayoutInput, TargetKind } from './format.ts';
import { StoreError, StoreWriter } from './store.ts';
import { targetRows } from './targets.ts';

/** What each position of a new store keeps, and how it is encoded. */
export interface TargetOptions {
  /** Record encoding (default 'compact': fp16 log-probs, ids in ceil(log2 V) bits, the tail mass). */
  encoding?: StoreEncoding;
  /** 'topk' (default): the topK most likely tokens; 'sampled': tokens drawn from the teacher. */
  targets?: TargetKind;
  /** Draws per position for targets 'sampled' (default 12); it replaces topK as the entries per position. */
  samples?: number;
  /** Seed of the draws for targets 'sampled' (default 0). */
  seed?: number;
}

export const DEFAULT_SAMPLES = 12;

/** The layout fields TargetOptions decide: entries per position, encoding, target kind, seed. */
export function targetLayout(
  o: TargetOptions & { topK: number },
): Pick<StoreLayoutInput, 'topK' | 'encoding' | 'targets' | 'seed'> {
  const encoding = o.encoding ?? 'compact';
  return o.targets === 'sampled'
    ? { topK: o.samples ?? DEFAULT_SAMPLES, encoding, targets: 'sampled', seed: o.seed ?? 0 }
    : { topK: o.topK, encoding, targets: 'topk' };
}

export interface LabelOptions extends TargetOptions {
  topK: number;
  hidden?: number[];
  /** Examples per teacher call. */
  batch?: number;
  /** Hash of the tokenizer's vocabulary (see tokenizerHash). */
  tokenizer: string;
  onProgress?: (done: number, total: number) => void;
}

/** Identifies a dataset by its examples' tokens: a store refuses to serve a different one. */
export function datasetHash(examples: readonly Int32Array[]): string {
  const h = createHash('sha256');
  for (const e of examples) h.update(new Uint8Array(e.buffer, e.byteOffset, e.byteLength));
  return h.digest('hex').slice(0, 32);
}

export function tokenizerHash(tok: { vocabSize: number; idToToken(i: number): string | undefined }): string {
  const h = createHash('sha256');
  for (let i = 0; i < tok.vocabSize; i++) h.update(`${tok.idToToken(i) ?? ''}\u0000`);
  return h.digest('hex').slice(0, 32);
}

export interface LabelLoopOptions {
  /** Hidden states to store, by index (0: the embedding output). */
  hidden?: readonly number[];
  /** Examples per teacher call (default 8). */
  batch?: number;
  /** Index of examples[0] in the whole dataset (a shard's start): sampled targets draw per dataset index. */
  first?: number;
  onProgress?: (done: number, total: number) => void;
  /** Stop after the current batch commits. */
  signal?: AbortSignal;
  /** Thrown errors that mean "stop cleanly, resume later" (e.g. the HTTP budget): the loop returns instead. */
  stopOn?: (err: unknown) => boolean;
}

/**
 * The labelling loop: scores `examples` batch by batch from the writer's committed count on and
 * appends the teacher's targets (and hidden states) to the store, committing each batch before the
 * next is asked for, so a run killed anywhere resumes at the first example not committed and no
 * example is stored twice. Returns why it stopped early, if it did.
 */
export async function labelInto(
  writer: StoreWriter,
  teacher: Teacher,
  examples: readonly Int32Array[],
  o: LabelLoopOptions,
): Promise<{ stopped?: string }> {
  const seq = examples[0]?.length ?? 0;
  const batch = o.batch ?? 8;
  const hidden = o.hidden ?? [];
  const layout = writer.layout;
  const targets = targetRows[layout.targets];
  const refused = writer.count < examples.length ? targets.refuse(teacher) : undefined;
  if (refused) throw new StoreError(`label: ${refused}`);
  if (writer.count > examples.length)
    throw new Error(
      `label: ${writer.dir} holds ${writer.count} records but there are ${examples.length} examples to label; it belongs to another split`,
    );
  while (writer.count < examples.length) {
    if (o.signal?.aborted) return { stopped: 'aborted' };
    const rows = examples.slice(writer.count, writer.count + batch);
    const ids = hostTensor(
      'int64',
      [rows.length, seq],
      rows.flatMap((r) => Array.from(r)),
    );
    let r;
    try {
      r = await teacher.score({ ids, ...targets.request(layout), hidden: hidden.length ? [...hidden] : undefined });
    } catch (err) {
      if (o.stopOn?.(err)) return { stopped: (err as Error).message };
      throw err;
    }
    const start = writer.count;
    rows.forEach((_, b) => {
      writer.append({
        ...targets.entries(r, b, layout, (o.first ?? 0) + start + b),
        hidden: (r.hidden ?? []).map((h) =>
          (h.data as Float32Array).slice(b * seq * h.shape[2]!, (b + 1) * seq * h.shape[2]!),
        ),
      });
    });
    writer.commit();
    o.onProgress?.(writer.count, examples.length);
  }
  return {};
}

/** Labels a whole dataset into one store at `dir` (the offline strategy's store). */
export async function labelDataset(
  teacher: Teacher,
  examples: readonly Int32Array[],
  dir: string,
  o: LabelOptions,
): Promise<{ labelled: number; skipped: number }> {
  const seq = examples[0]?.length ?? 0;
  if (examples.some((e) => e.length !== seq)) throw new Error('labelDataset: every example must have the same length');
  const identity: StoreIdentity = {
    teacher: teacher.fingerprint,
    tokenizer: o.tokenizer,
    dataset: datasetHash(examples),
  };
  const hidden = o.hidden ?? [];
  const writer = StoreWriter.open(
    dir,
    identity,
    {
      seq,
      ...targetLayout(o),
      hidden,
      dModel: hidden.length ? (teacher.info.dModel ?? 0) : 0,
      vocabSize: teacher.info.vocabSize,
    },
    { total: examples.length, commitEvery: o.batch ?? 8 },
  );
  const skipped = writer.count;
  try {
    await labelInto(writer, teacher, examples, o);
  } finally {
    writer.close();
  }
  return { labelled: examples.length - skipped, skipped };
}
