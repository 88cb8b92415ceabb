// The distillation layer's public API: losses (one table), the objective composer, the trainer
// and its checkpoints and progress display, the offline teacher store and its sharded labelling,
// the run configuration, and the strategies that put them together.
export * from './checkpoint/index.ts';
export * from './classify/index.ts';
export * from './compose/index.ts';
export * from './config/index.ts';
export * from './label/index.ts';
export * from './losses/index.ts';
export * from './progress/index.ts';
export {
  datasetHash,
  identitySchema,
  labelDataset,
  layoutSchema,
  manifestSchema as storeManifestSchema,
  StoreError,
  StoreReader,
  StoreTeacher,
  StoreWriter,
  tokenizerHash,
  type LabelOptions,
  type StoreIdentity,
  type StoreLayout,
  type StoreManifest,
  type StoreRecord,
} from './store/index.ts';
export * from './strategies/index.ts';
export * from './trainer/index.ts';
