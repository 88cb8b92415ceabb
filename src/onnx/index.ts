// Public API of the ONNX wire-format layer: plain-data model types, bytes <-> model, and files
// (one .onnx, or an .onnx with its weights in an external data file).
export * from './model.ts';
export { encodeModel, type EncodeOptions } from './encode.ts';
export { decodeModel, type DecodeOptions } from './decode.ts';
export {
  checkLocation,
  EXTERNAL_MIN_BYTES,
  externalDataBytes,
  externalDataPieces,
  layoutExternalData,
  type ExternalDataLayout,
  type ExternalDataReader,
} from './external.ts';
export {
  checkExternalData,
  dataFileOf,
  EXTERNAL_DATA_ABOVE,
  initializerBytes,
  onnxFileBytes,
  readExternalDataFiles,
  readOnnxFile,
  usesExternalData,
  writeOnnxFile,
  type WriteOnnxOptions,
  type WrittenOnnx,
} from './file.ts';
export {
  elementCount,
  tensorByteLength,
  tensorToTypedArray,
  typedArrayToTensor,
  type OnnxTypedArray,
} from './tensor.ts';
