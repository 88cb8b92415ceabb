// Distillation strategies, one row each in pipeline.ts's table, composed over one DistillContext:
// kd / hardLabels, offline, online / mutual, bornAgain / deepToShallow, onPolicy, augment,
// finetuneTeacher, initFromTeacher, teacherAnswers, and pipelines of them.
export {
  answerSeed,
  answerWriter,
  type AnswerSettings,
  type AnswerWriter,
  type WrittenAnswer,
} from './answers/writers.ts';
export {
  runTeacherAnswers,
  teacherAnswersRule,
  teacherAnswersSchema,
  type TeacherAnswersConfig,
} from './answers/strategy.ts';
export * from './augment/index.ts';
export { PreparedSource, prepareEval, type BatchInfo, type BatchTransform } from './batches.ts';
export { bornAgainRule, bornAgainSchema, runBornAgain, type GenerationReport } from './born-again.ts';
export {
  createDistillContext,
  localTeacher,
  pickTeachers,
  type BatchEvent,
  type DistillContext,
  type DistillContextOptions,
  type DistillHooks,
  type KdDefaults,
  type LmCorpus,
  type RunSettings,
  type StageInfo,
  type StageReport,
  type StudentSpec,
  type TaskData,
  type TeacherEntry,
  type TextGenerateOptions,
  type TextGenerator,
} from './context.ts';
export { deepToShallowRule, deepToShallowSchema, runDeepToShallow } from './deep-to-shallow.ts';
export { exampleSource, rngAt, windowExamples, type Windows } from './examples.ts';
export { multiTeacherSchema, samplingFields, termSchema, type TermConfig, type TermConfigInput } from './fields.ts';
export {
  distillSectionSchema,
  resolveTeachers,
  settingsFromRunConfig,
  teacherConfigSchema,
  type DistillSection,
  type TeacherConfig,
} from './from-config.ts';
export {
  resolveSourcePaths,
  teacherResolvers,
  teacherSourceSchema,
  type TeacherResolver,
  type TeacherSource,
} from './teacher-source.ts';
export { FINETUNE_MARKER, finetuneTeacherRule, finetuneTeacherSchema, runFinetuneTeacher } from './finetune-teacher.ts';
export {
  defaultLayers,
  initFromTeacher,
  initFromTeacherRule,
  initFromTeacherSchema,
  runInitFromTeacher,
  type InitFromTeacherOptions,
  type InitReport,
} from './init-from-teacher.ts';
export {
  defaultTerms,
  hardLabelObjective,
  hardLabelsRule,
  hardLabelsSchema,
  kdTrainObjective,
  kdRule,
  kdSchema,
  runHardLabels,
  runKd,
  studentStart,
  termWeight,
  type KdConfig,
} from './kd.ts';
export { teacherAgreement, type Agreement } from './measure.ts';
export { OfflineTeacher } from './offline-teacher.ts';
export { offlineRule, offlineSchema, runOffline, type OfflineConfig } from './offline.ts';
export {
  feedParams,
  onPolicyRule,
  onPolicySchema,
  onPolicyTransform,
  runOnPolicy,
  type OnPolicyConfig,
  type OnPolicyStats,
} from './on-policy.ts';
export { mutualRule, mutualSchema, onlineRule, onlineSchema, PEER_PREFIX, runMutual, runOnline } from './online.ts';
export {
  distillConfigSchema,
  parseDistillConfig,
  pipelineSchema,
  runDistill,
  stepRules,
  stepSchema,
  strategies,
  strategyRules,
  type DistillConfig,
  type DistillConfigInput,
  type DistillResult,
  type StepConfig,
  type StrategyKind,
} from './pipeline.ts';
export { strategyRule, type StrategyRule } from './rule.ts';
export { copyParams, heldOut, trainJob, type JobObjective, type JobResult, type TrainJob } from './train.ts';
