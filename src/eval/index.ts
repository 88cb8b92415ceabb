// Evaluation: teacher and students side by side (quality, agreement, size, speed, memory) as
// versioned JSON and a terminal table.
export { evaluate, type EvalData, type EvaluateOptions, type SpeedOptions } from './evaluate.ts';
export { measurePeakMemory, MEMORY_CHILD, type MemoryFigures, type MemoryOptions } from './memory.ts';
export { AgreementAccumulator, argmaxRow, klRow, logSoftmaxRow, percentile, QualityAccumulator } from './metrics.ts';
export { classesOf, InferenceProgram, inferenceOutputs, paramCount, paramValues, taskOf, writeInferenceOnnx, type EvalModel, type EvalTask, type ParamSource, type ScorableModel } from './programs.ts';
export {
  EVAL_SCHEMA, EVAL_VERSION, evalReportSchema, finiteOrNull, modelEvalSchema, onnxFileSchema, parseEvalReport, type EvalReport, type ModelEval,
} from './schema.ts';
export { takeRows, timeRuns, type Timing, type TimingOptions } from './speed.ts';
export { columnsFor, formatCount, formatEvalTable, type Column } from './table.ts';
