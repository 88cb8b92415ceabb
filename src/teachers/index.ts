export { fingerprintWeights, LocalTeacher } from './local.ts';
export {
  checkRequest,
  TeacherError,
  type ScoreRequest,
  type ScoreResult,
  type Teacher,
  type TeacherInfo,
  type SparseInfo,
  type TopK,
} from './teacher.ts';
export { EnsembleTeacher } from './ensemble.ts';
export { HttpTeacher } from './http/index.ts';
export { OnnxTeacher } from './onnx/index.ts';
