export { Deduper, jaccard, shingles, type DedupeOptions, type DuplicateKind } from './dedupe.ts';
export { EXAMPLES, GeneratedSet, MANIFEST, type GeneratedExample, type GeneratedManifest } from './examples-file.ts';
export { generateSet, type GenerateSetOptions, type Proposal } from './generate.ts';
export { isGeneratedRow, mixSources } from './mix.ts';
export {
  augmentRule,
  augmentSchema,
  dedupeSchema,
  generatedStream,
  retortGenerator,
  runAugment,
  type AugmentConfig,
} from './strategy.ts';
export {
  classifierSource,
  classifierTeacher,
  labelWithClassifier,
  perturb,
  promptForLabels,
  type Classify,
  type LabelledText,
  type LabelWithClassifierOptions,
  type PromptForLabelsOptions,
} from './classifier.ts';
