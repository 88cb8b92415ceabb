// Sequence classifiers: labelled texts as batches, and the distillation objective on class logits.
export {
  classificationEval,
  classificationSource,
  encodeExamples,
  type EncodedExamples,
  type LabelledText,
} from './data.ts';
export {
  classifierObjective,
  classifierTeacherPrefix,
  type ClassifierRun,
  type ClassifierTeacher,
  type ClassifierTerm,
  type ClassifierTrainerParts,
} from './kd.ts';
