export { taskBatches, taskEvalBatches, taskInputs, type TaskBatchOptions } from './task-data.ts';
export {
  evalWindows,
  tokenWindows,
  type Batch,
  type BatchStream,
  type DataSource,
  type EvalSource,
  type InputSpec,
  type TokenWindowOptions,
} from './data.ts';
export { Monitor, type MonitorOptions, type MonitorState } from './early-stopping.ts';
export { evalOutputs, metricOf, type EvalResult } from './evaluate.ts';
export { MetricsLog, type MetricsRecord } from './metrics-log.ts';
export {
  LOSS_WEIGHT_PREFIX,
  Trainer,
  TrainingDivergedError,
  type BalanceOptions,
  type CheckpointOptions,
  type LossBuilder,
  type LossContext,
  type LossTerms,
  type ResumeOptions,
  type RunSummary,
  type StepRecord,
  type TrainerEvent,
  type TrainerOptions,
} from './trainer.ts';
