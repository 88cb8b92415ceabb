// Which examples shard i of n owns: contiguous ranges [⌊i·N/n⌋, ⌊(i+1)·N/n⌋), so the shards
// cover 0..N−1 exactly once whatever N and n are, and each shard's store holds its examples in order.

export interface ShardSpec {
  index: number;
  count: number;
}

/** Parses "i/n" (as `--shard 2/8` gives it). */
export function parseShard(s: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  if (!m) throw new Error(`--shard: expected "i/n" with 0 <= i < n (e.g. 0/4), got '${s}'`);
  return checkShard({ index: Number(m[1]), count: Number(m[2]) });
}

export function checkShard(s: ShardSpec): ShardSpec {
  if (!Number.isInteger(s.count) || s.count < 1)
    throw new Error(`shard count must be a positive integer, got ${s.count}`);
  if (!Number.isInteger(s.index) || s.index < 0 || s.index >= s.count)
    throw new Error(`shard index must be in 0..${s.count - 1}, got ${s.index}`);
  return s;
}

/** [start, end) of the examples shard `s` owns out of `total`. */
export function shardRange(total: number, s: ShardSpec): [number, number] {
  checkShard(s);
  return [Math.floor((s.index * total) / s.count), Math.floor(((s.index + 1) * total) / s.count)];
}

/** The folder of shard i of n under a labelling run's root. */
export const shardDirName = (s: ShardSpec): string =>
  `shard-${String(s.index).padStart(5, '0')}-of-${String(s.count).padStart(5, '0')}`;
