// Reads a checkpoint split over several safetensors files, as Hugging Face saves models over a size limit:
// model.safetensors.index.json maps every tensor name to the shard that holds it
// ({"metadata": {"total_size": ...}, "weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors", ...}}).
// Opening validates the index and every shard's header before any tensor byte is read; tensors are
// then read one at a time from the shard that holds them.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  openSafetensors,
  readAllTensors,
  type SafetensorsFile,
  type TensorInfo,
  type TensorReader,
} from './safetensors.ts';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

interface ShardIndex {
  metadata?: Record<string, unknown>;
  weight_map: Record<string, string>;
}

function readIndex(indexPath: string): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new Error(`${indexPath}: cannot read the shard index (${(err as Error).message}); download it again`);
  }
  const map = (json as ShardIndex | null)?.weight_map;
  if (
    map === null ||
    typeof map !== 'object' ||
    Array.isArray(map) ||
    !Object.values(map).every((v) => typeof v === 'string')
  ) {
    throw new Error(
      `${indexPath}: expected {"weight_map": {tensor name: shard file name}}, got ${JSON.stringify(json).slice(0, 200)}`,
    );
  }
  return json as ShardIndex;
}

/**
 * Opens every shard an index names, as one reader over the tensors the index lists. Tensors a shard
 * holds but the index does not list are left out, as transformers does. Metadata: every shard's
 * "__metadata__" merged.
 */
export function openShardedSafetensors(indexPath: string): TensorReader {
  const index = readIndex(indexPath);
  const dir = dirname(indexPath);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(index.weight_map)) {
    if (!byShard.has(shard)) byShard.set(shard, []);
    byShard.get(shard)!.push(name);
  }
  for (const [shard, names] of byShard) {
    if (!existsSync(join(dir, shard))) {
      throw new Error(
        `${indexPath}: shard '${shard}' (holds ${names.length} tensors, e.g. '${names[0]}') is missing from ${dir}; download every file the index names (${byShard.size} shards)`,
      );
    }
  }
  const shards: TensorReader[] = [];
  const holder = new Map<string, TensorReader>();
  const tensors = new Map<string, TensorInfo>();
  const metadata: Record<string, string> = {};
  try {
    for (const [shard, names] of byShard) {
      const reader = openSafetensors(join(dir, shard));
      shards.push(reader);
      Object.assign(metadata, reader.metadata);
      const listed = new Set(names);
      for (const [name, info] of reader.tensors) {
        if (!listed.has(name)) continue;
        tensors.set(name, info);
        holder.set(name, reader);
      }
      const absent = names.find((n) => !reader.tensors.has(n));
      if (absent !== undefined)
        throw new Error(
          `${join(dir, shard)}: the index says tensor '${absent}' is here, but the shard does not hold it; the index and shards come from different versions — download them together`,
        );
    }
  } catch (err) {
    for (const r of shards) r.close();
    throw err;
  }
  const readerOf = (name: string): TensorReader => {
    const r = holder.get(name);
    if (!r) throw new Error(`${indexPath}: the index lists no tensor '${name}'`);
    return r;
  };
  return {
    tensors,
    metadata,
    read: (name) => readerOf(name).read(name),
    readFloat32: (name) => readerOf(name).readFloat32(name),
    close: () => {
      for (const r of shards) r.close();
    },
  };
}

/** Opens a checkpoint folder (single model.safetensors or a sharded index), an index file, or a .safetensors file. */
export function openCheckpoint(path: string): TensorReader {
  if (existsSync(path) && statSync(path).isDirectory()) {
    if (existsSync(join(path, INDEX_FILE))) return openShardedSafetensors(join(path, INDEX_FILE));
    if (existsSync(join(path, SINGLE_FILE))) return openSafetensors(join(path, SINGLE_FILE));
    throw new Error(
      `${path}: no ${SINGLE_FILE} or ${INDEX_FILE} in this folder; is it a Hugging Face model folder with safetensors weights?`,
    );
  }
  return path.endsWith('.json') ? openShardedSafetensors(path) : openSafetensors(path);
}

/** Reads every tensor listed in a shard index into one map (small checkpoints; else openShardedSafetensors). */
export function readShardedSafetensors(indexPath: string): SafetensorsFile {
  return readAllTensors(openShardedSafetensors(indexPath));
}

/** Reads a whole checkpoint into memory (small checkpoints and tests; loading goes through openCheckpoint). */
export function readCheckpoint(path: string): SafetensorsFile {
  return readAllTensors(openCheckpoint(path));
}
