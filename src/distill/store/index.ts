export { bytesPerToken, encodings, F16_MAX, recordBytes, type StoreRecord } from './codec.ts';
export {
  idBits,
  identitySchema,
  layoutSchema,
  manifestSchema,
  storeEncodings,
  targetKinds,
  type StoreEncoding,
  type StoreIdentity,
  type StoreLayout,
  type StoreManifest,
  type TargetKind,
} from './format.ts';
export {
  datasetHash,
  DEFAULT_SAMPLES,
  labelDataset,
  labelInto,
  targetLayout,
  tokenizerHash,
  type LabelLoopOptions,
  type LabelOptions,
  type TargetOptions,
} from './label.ts';
export { checkLayout, StoreError, StoreReader, StoreWriter } from './store.ts';
export { StoreTeacher } from './teacher.ts';
export { tailOf } from './targets.ts';
