export { ARCHS, type ArchTensor } from './arch.ts';
export {
  encodeGgufModel,
  exportGguf,
  GGUF_FILE_TYPES,
  type GgufExportOptions,
  type GgufExportResult,
  type GgufFileType,
} from './export.ts';
export {
  encodeGguf,
  GGUF_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  type GgufTensor,
  type GgufValue,
} from './format.ts';
export { GGML_TYPE_BY_ID, GGML_TYPES, type GgmlTypeName } from './quant.ts';
export { preTokenizerOf, tokenizerMetadata } from './tokenizer.ts';
