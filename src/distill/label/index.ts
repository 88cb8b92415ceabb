// Sharded offline labelling: each shard of a dataset labelled into its own store (resumable, run
// anywhere), then merged into one store after checking nothing is missing or doubled.
export { identityOf, labelShard, type LabelShardOptions, type LabelShardResult } from './label-shard.ts';
export { MergeError, mergeShards, type MergeReport } from './merge.ts';
export { checkShard, parseShard, shardDirName, shardRange, type ShardSpec } from './shard.ts';
