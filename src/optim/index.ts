export { clipByGlobalNorm, globalNorm } from './clip.ts';
export {
  defaultAdamW,
  defaultSgd,
  optimizerRules,
  ruleFor,
  type AdamWConfig,
  type OptimizerConfig,
  type OptimizerRule,
  type SgdConfig,
} from './optimizers.ts';
export { lrAt, scheduleSchema, type Schedule } from './schedule.ts';
export {
  NonFiniteLossError,
  TrainStep,
  type StepResult,
  type TrainState,
  type TrainStepOptions,
} from './train-step.ts';
