// Export to the Hugging Face / transformers.js ONNX layout, with symbolic dims and optional int8.
export { exportClassifierOnnx, type ClassifierExportResult } from './classifier.ts';
export { decoderOnnxModel, exportDecoderOnnx, type ExportOptions, type ExportResult } from './decoder.ts';
export {
  lowerPolymorphic,
  type DimSource,
  type PolymorphicGraph,
  type PolymorphicSpec,
  type SymbolicDim,
} from './polymorphic.ts';
export { quantizeInt8, quantizeMatrix, type QuantizeReport } from './quantize.ts';
export { modelFolder, transformersJsConfig, writeOnnxFiles, type ModelFolder, type OnnxFiles } from './folder.ts';
export {
  encodeGgufModel,
  exportGguf,
  GGUF_FILE_TYPES,
  type GgufExportResult,
  type GgufFileType,
} from './gguf/index.ts';
export { EXPORT_FORMATS, parseFormats, type ExportFormat } from './formats.ts';
export { packQ4, quantizeQ4, type Q4Options, type Q4Report } from './quantize-q4.ts';
export { toFloat16 } from './fp16.ts';
