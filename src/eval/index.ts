// Evaluation: teacher and students side by side (quality, agreement, size, speed, memory, and task
// scores of generated answers) as versioned JSON and a terminal table.
export { evaluate, type EvalData, type EvaluateOptions, type SpeedOptions } from './evaluate.ts';
export { measurePeakMemory, MEMORY_CHILD, type MemoryFigures, type MemoryOptions } from './memory.ts';
export { AgreementAccumulator, argmaxRow, klRow, logSoftmaxRow, percentile, QualityAccumulator } from './metrics.ts';
export {
  classesOf,
  InferenceProgram,
  inferenceOutputs,
  paramCount,
  paramValues,
  taskOf,
  writeInferenceOnnx,
  type EvalModel,
  type EvalTask,
  type ParamSource,
  type ScorableModel,
} from './programs.ts';
export {
  EVAL_SCHEMA,
  EVAL_VERSION,
  evalReportSchema,
  finiteOrNull,
  generationSettingsSchema,
  modelEvalSchema,
  onnxFileSchema,
  parseEvalReport,
  taskEvalSchema,
  taskExampleSchema,
  type EvalReport,
  type GenerationSettings,
  type ModelEval,
  type TaskEval,
  type TaskExample,
} from './schema.ts';
export { takeRows, timeRuns, type Timing, type TimingOptions } from './speed.ts';
export {
  columnsFor,
  EXPORT_HEADS,
  exportCells,
  formatCount,
  formatEvalTable,
  hasTaskScores,
  taskNote,
  type Column,
} from './table.ts';
export {
  agreementScores,
  CHRF_BETA,
  CHRF_ORDER,
  chrF,
  chrFFromStatistics,
  chrFStatistics,
  corpusChrF,
  corpusTokenErrorRate,
  exactMatch,
  levenshtein,
  normalizeAnswer,
  taskScores,
  tokenErrorRate,
  tokenF1,
  whitespaceTokens,
  type AgreementScores,
  type TaskScores,
} from '../data/task/metrics.ts';
export { evaluateTask, type TaskEvalOptions, type TaskEvalResult, type TaskModel } from './task.ts';
