// Public API of the ONNX wire-format layer: plain-data model types, and bytes <-> model.
export * from './model.ts';
export { encodeModel } from './encode.ts';
export { decodeModel } from './decode.ts';
export {
  elementCount,
  tensorByteLength,
  tensorToTypedArray,
  typedArrayToTensor,
  type OnnxTypedArray,
} from './tensor.ts';
