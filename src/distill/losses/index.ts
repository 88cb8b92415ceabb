// Distillation losses: dense and sparse logit KD, hidden-state, attention-map and value-relation
// transfer, each a row of lossRules (rules.ts); loss balancing and vocabulary alignment beside them.
export {
  attentionLossSchema,
  attentionMapKl,
  createAttentionLoss,
  type AttentionKlOptions,
  type AttentionLossConfig,
} from './attention.ts';
export {
  balanceSchema,
  combineLosses,
  LossBalancer,
  lossWeightInputs,
  lossWeightName,
  RunningScale,
  scheduleAt,
  weightScheduleSchema,
  type BalanceConfig,
  type RunningScaleState,
  type BalanceReport,
  type CombinedLoss,
  type WeightSchedule,
} from './balance.ts';
export {
  divergenceKinds,
  divergences,
  klFromLogs,
  logMixture,
  type DivergenceKind,
  type DivergenceOptions,
} from './divergence.ts';
// Re-exported for the library's users; it lives beside `gather` in the graph layer.
export { takeAlongLastAxis } from '../../graph/index.ts';
export { hiddenDistance, hiddenLossSchema, HiddenStateLoss, Projection, type HiddenLossConfig } from './hidden.ts';
export { kdObjective, type KdOptions } from './kd-objective.ts';
export { layerMapSchema, layerPairs, type LayerMap, type LayerMapInput, type LayerPair } from './layer-map.ts';
export { createLogitKd, logitKdLoss, logitKdSchema, type LogitKdConfig, type LogitKdInputs } from './logit-kd.ts';
export { keepOf, maskedMean, maskLabels } from './mask.ts';
export {
  createLoss,
  distillLossSchema,
  lossRules,
  type DistillLossConfig,
  type DistillLossConfigInput,
  type LossRule,
} from './rules.ts';
export {
  createTopkKd,
  studentBuckets,
  teacherBuckets,
  topkKdLoss,
  topkKdSchema,
  type TopkKdConfig,
  type TopkKdInputs,
  type TopkOptions,
} from './topk.ts';
export {
  fromDecoder,
  lossDimsOf,
  type DistillBatch,
  type DistillLoss,
  type LossDims,
  type LossKind,
  type LossOutput,
  type ModelDims,
  type ModelOutputs,
  type SparseTargets,
} from './types.ts';
export {
  createValueRelation,
  valueRelationKl,
  valueRelationSchema,
  type ValueRelationConfig,
  type ValueRelationOptions,
} from './value-relation.ts';
export { alignVocab, commonVocab } from './vocab.ts';
export { canChunk, chunkedLoss, lmCrossEntropy, type LossChunkSetting } from './chunked.ts';
