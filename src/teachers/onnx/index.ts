// ONNX files as teachers: decoders and classifiers with transformers.js / onnx-community names.
export {
  appendTopK,
  CANDIDATE_OPS,
  exposeOutputs,
  hiddenHint,
  listCandidates,
  residualStream,
  TOPK_INDICES,
  TOPK_K_INPUT,
  TOPK_VALUES,
  walkResidualStream,
  type CandidateTensor,
  type ResidualWalk,
} from './graph-edit.ts';
export {
  describeIo,
  fromOrt,
  OnnxSession,
  positionsFromMask,
  type OnnxIo,
  type OnnxRunInputs,
  type OnnxSessionOptions,
  type PastInput,
} from './session.ts';
export { inspectOnnx, OnnxTeacher, topkFromLogits, type OnnxScoreRequest, type OnnxTeacherOptions } from './teacher.ts';
