export {
  identitySchema,
  layoutSchema,
  manifestSchema,
  type StoreIdentity,
  type StoreLayout,
  type StoreManifest,
} from './format.ts';
export {
  datasetHash,
  labelDataset,
  labelInto,
  tokenizerHash,
  type LabelLoopOptions,
  type LabelOptions,
} from './label.ts';
export { StoreError, StoreReader, StoreWriter, type StoreRecord } from './store.ts';
export { StoreTeacher } from './teacher.ts';
