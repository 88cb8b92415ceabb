export { buildDistillObjective, type DistillObjective, type DistillObjectiveSpec, type LossTerm } from './objective.ts';
export { batchForward, batchInputs, type BatchInputs, type BatchLayout } from './batch-inputs.ts';
export { combineTeacherLogits, type MultiTeacherMode } from './multi-teacher.ts';
export {
  teacherPrefix,
  traceTeacher,
  type TeacherMode,
  type TeacherNeeds,
  type TeacherSlot,
  type TracedTeacher,
} from './teachers.ts';
