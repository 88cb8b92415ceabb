// Joins the shard stores of one labelling run into one store, after checking that they fit
// together: the same teacher, tokenizer, dataset and layout; one store for each shard 0..n−1 of
// the same n (none missing, none twice); each complete, holding exactly the examples its range
// owns; every record's header and CRC intact. Any failure lists every problem at once and
// writes nothing.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StoreReader, StoreWriter } from '../store/index.ts';
import { shardRange } from './shard.ts';

export class MergeError extends Error {
  override name = 'MergeError';
  constructor(readonly problems: string[]) {
    super(`cannot merge the shards: ${problems.join('; ')}`);
  }
}

export interface MergeReport {
  out: string;
  shards: number;
  examples: number;
}

/** Shard stores under `root`: folders with a manifest.json that records a shard. */
function shardStores(root: string): StoreReader[] {
  if (!existsSync(root)) throw new MergeError([`${root} does not exist`]);
  const readers = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'manifest.json')))
    .map((d) => new StoreReader(join(root, d.name)));
  for (const r of readers) if (r.manifest.shard === undefined) r.close();
  return readers.filter((r) => r.manifest.shard !== undefined);
}

/** Checks the shard stores under `root` and writes the merged store to `out` (a new folder). */
export function mergeShards(root: string, out: string): MergeReport {
  if (existsSync(join(out, 'manifest.json')))
    throw new MergeError([`${out} already holds a store; merge into a new folder`]);
  const stores = shardStores(root);
  try {
    return mergeInto(stores, root, out);
  } finally {
    for (const s of stores) s.close();
  }
}

function mergeInto(stores: StoreReader[], root: string, out: string): MergeReport {
  const problems: string[] = [];
  if (stores.length === 0) throw new MergeError([`no shard stores under ${root}`]);
  const first = stores[0]!.manifest;
  const n = first.shard!.of;
  const byIndex = new Map<number, StoreReader[]>();
  for (const s of stores) {
    const m = s.manifest;
    for (const key of ['teacher', 'tokenizer', 'dataset'] as const) {
      if (m.identity[key] !== first.identity[key])
        problems.push(
          `${s.dir} was labelled with ${key} '${m.identity[key]}', ${stores[0]!.dir} with '${first.identity[key]}'`,
        );
    }
    if (JSON.stringify(m.layout) !== JSON.stringify(first.layout))
      problems.push(`${s.dir} has layout ${JSON.stringify(m.layout)}, unlike ${JSON.stringify(first.layout)}`);
    if (m.shard!.of !== n)
      problems.push(`${s.dir} is shard ${m.shard!.index}/${m.shard!.of}, but other shards split ${n} ways`);
    byIndex.set(m.shard!.index, [...(byIndex.get(m.shard!.index) ?? []), s]);
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length) problems.push(`shard(s) ${missing.join(', ')} of ${n} missing`);
  for (const [i, list] of byIndex)
    if (list.length > 1)
      problems.push(
        `shard ${i}/${n} appears ${list.length} times (${list.map((s) => s.dir).join(', ')}): its examples would be doubled`,
      );
  if (problems.length) throw new MergeError(problems);

  const ordered = Array.from({ length: n }, (_, i) => byIndex.get(i)![0]!);
  const examples = ordered.reduce((t, s) => t + (s.manifest.total ?? 0), 0);
  for (const [i, s] of ordered.entries()) {
    const [start, end] = shardRange(examples, { index: i, count: n });
    const want = end - start;
    if (s.manifest.total !== want)
      problems.push(`${s.dir} expects ${s.manifest.total} examples but shard ${i}/${n} of ${examples} owns ${want}`);
    if (s.count < want)
      problems.push(
        `${s.dir} is incomplete: ${s.count} of ${want} examples labelled (examples ${start + s.count}..${end - 1} missing); run that shard again to finish it`,
      );
    if (s.count > want) problems.push(`${s.dir} holds ${s.count} records for ${want} examples`);
    for (let j = 0; j < Math.min(s.count, want); j++) {
      try {
        s.get(j); // header (index j) and CRC
      } catch (err) {
        problems.push((err as Error).message);
        break;
      }
    }
  }
  if (problems.length) throw new MergeError(problems);

  const writer = StoreWriter.open(out, first.identity, first.layout, { total: examples, commitEvery: 1024 });
  try {
    for (const s of ordered) for (let j = 0; j < s.count; j++) writer.append(s.get(j));
    writer.close();
  } catch (err) {
    writer.close();
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
  return { out, shards: n, examples };
}
