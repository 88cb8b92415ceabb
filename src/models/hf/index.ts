export {
  createModel,
  families,
  familyLabel,
  familyOf,
  familyOfModelType,
  freshModelLike,
  type DecoderModel,
  type Family,
  type FamilyConfig,
  type FamilyConfigInput,
  type FamilyModel,
  type FamilyName,
} from './families.ts';
export { loadHfModel, readHfConfig, type HfTask, type LoadedHfModel, type LoadHfOptions } from './load.ts';
export { hfConfigOf, saveHfModel, type SaveHfOptions } from './save.ts';
