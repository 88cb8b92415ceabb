// Runs a teacher over a dataset's examples once and appends its top-k (and chosen hidden states)
// to a store. Rerunning after a crash continues from the store's committed count.
import { createHash } from 'node:crypto';
import { hostTensor } from '../../runtime/index.ts';
import type { Teacher } from '../../teachers/index.ts';
import type { StoreIdentity } from './format.ts';
import { StoreWriter } from './store.ts';

export interface LabelOptions {
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
  topK: number;
  /** Hidden states to store, by index (0: the embedding output). */
  hidden?: readonly number[];
  /** Examples per teacher call (default 8). */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
  /** Stop after the current batch commits. */
  signal?: AbortSignal;
  /** Thrown errors that mean "stop cleanly, resume later" (e.g. the HTTP budget): the loop returns instead. */
  stopOn?: (err: unknown) => boolean;
}

/**
 * The labelling loop: scores `examples` batch by batch from the writer's committed count on and
 * appends the teacher's top-k (and hidden states) to the store, committing each batch before the
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
      r = await teacher.score({ ids, topK: o.topK, hidden: hidden.length ? [...hidden] : undefined });
    } catch (err) {
      if (o.stopOn?.(err)) return { stopped: (err as Error).message };
      throw err;
    }
    const n = seq * o.topK;
    const topIds = r.topk!.ids.data as BigInt64Array;
    const topLp = r.topk!.logprobs.data as Float32Array;
    rows.forEach((_, b) => {
      writer.append({
        ids: Int32Array.from(topIds.subarray(b * n, (b + 1) * n), Number),
        logprobs: topLp.slice(b * n, (b + 1) * n),
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
      topK: o.topK,
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
