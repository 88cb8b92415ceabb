export {
  BEST_FILE,
  CheckpointError,
  checkpointName,
  LATEST_FILE,
  listCheckpoints,
  loadCheckpoint,
  MANIFEST_FILE,
  MODEL_FILE,
  OPTIMIZER_FILE,
  pruneCheckpoints,
  resolveCheckpoint,
  saveCheckpoint,
  type CheckpointContents,
  type LoadedCheckpoint,
  type SaveOptions,
} from './checkpoint.ts';
export { canonicalJson, configHash, sha256File } from './hash.ts';
export { manifestSchema, type EvalMark, type Json, type Manifest } from './manifest.ts';
