// Reads a checkpoint split over several safetensors files, as Hugging Face saves models over a size limit:
// model.safetensors.index.json maps every tensor name to the shard that holds it
// ({"metadata": {"total_size": ...}, "weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors", ...}}).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readSafetensors, type SafetensorsFile, type Tensor } from './safetensors.ts';

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
 * Reads every tensor listed in a shard index into one map. Tensors a shard holds but the index does not
 * list are left out, as transformers does. Metadata: every shard's "__metadata__" merged.
 */
export function readShardedSafetensors(indexPath: string): SafetensorsFile {
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
  const tensors = new Map<string, Tensor>();
  const metadata: Record<string, string> = {};
  for (const [shard, names] of byShard) {
    const file = readSafetensors(join(dir, shard));
    Object.assign(metadata, file.metadata);
    for (const name of names) {
      const t = file.tensors.get(name);
      if (!t)
        throw new Error(
          `${join(dir, shard)}: the index says tensor '${name}' is here, but the shard does not hold it; the index and shards come from different versions — download them together`,
        );
      tensors.set(name, t);
    }
  }
  return { tensors, metadata };
}

/** Reads a checkpoint folder (single model.safetensors or a sharded index), an index file, or a .safetensors file. */
export function readCheckpoint(path: string): SafetensorsFile {
  if (existsSync(path) && statSync(path).isDirectory()) {
    if (existsSync(join(path, INDEX_FILE))) return readShardedSafetensors(join(path, INDEX_FILE));
    if (existsSync(join(path, SINGLE_FILE))) return readSafetensors(join(path, SINGLE_FILE));
    throw new Error(
      `${path}: no ${SINGLE_FILE} or ${INDEX_FILE} in this folder; is it a Hugging Face model folder with safetensors weights?`,
    );
  }
  return path.endsWith('.json') ? readShardedSafetensors(path) : readSafetensors(path);
}
