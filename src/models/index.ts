// The models' public API: the families registry, each family's model and config, the sequence
// classifier, and loading/saving Hugging Face model folders.
export type { DecoderOutput, ForwardOptions, KvPair } from './types.ts';
export {
  gpt2ConfigFromHf,
  gpt2ConfigSchema,
  gpt2ConfigToHf,
  type Gpt2Config,
  type Gpt2ConfigInput,
} from './gpt2/config.ts';
export { Gpt2 } from './gpt2/model.ts';
export * from './llama/index.ts';
export * from './classifier/index.ts';
export * from './hf/index.ts';
