export { ConfigError, configError, configIssue, nestedIssues, type ConfigIssue } from './errors.ts';
export { modelFromConfig, type BuiltModel } from './model.ts';
export { isTaskDataset, TASK_EOS, taskDataFromConfig, taskTokenizer, type TaskDataResult } from './task-data.ts';
export {
  BUILTIN_DATASETS,
  loadRunConfig,
  optimizerOf,
  parseRunConfig,
  readConfigFile,
  scheduleOf,
  type LoadedRunConfig,
  type ParseOptions,
} from './load.ts';
export {
  checkpointSchema,
  dataSchema,
  evalSchema,
  modelFamilies,
  modelSchema,
  optimizerSchema,
  runConfigSchema,
  scheduleSchema,
  tokenizerSchema,
  type ModelFamily,
  type RunConfig,
  type RunConfigInput,
} from './schema.ts';
