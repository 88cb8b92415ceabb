// Converting between graph-level values (dtype + float64 NDArray) and ONNX tensors.
import type { DType, NDArray } from '../graph/index.ts';
import { OnnxDataType, type OnnxDataTypeCode, type OnnxTensor } from './model.ts';

export const onnxTypeOf: Record<DType, OnnxDataTypeCode> = {
  float32: OnnxDataType.FLOAT,
  float64: OnnxDataType.DOUBLE,
  int64: OnnxDataType.INT64,
  int32: OnnxDataType.INT32,
  bool: OnnxDataType.BOOL,
};

export function dtypeOfOnnx(code: number): DType {
  const hit = (Object.entries(onnxTypeOf) as [DType, number][]).find(([, c]) => c === code);
  if (!hit)
    throw new Error(`ONNX element type ${code} has no Retort dtype (supported: float32, float64, int64, int32, bool)`);
  return hit[0];
}

export type HostArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** The typed array a dtype travels in between Retort and onnxruntime. */
export function hostArray(dtype: DType, values: ArrayLike<number>): HostArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int32':
      return Int32Array.from(values);
    case 'bool':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'int64': {
      const out = new BigInt64Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = BigInt(Math.trunc(values[i]!));
      return out;
    }
  }
}

export function ndarrayToOnnx(name: string, nd: NDArray): OnnxTensor {
  const arr = hostArray(nd.dtype, nd.data);
  return {
    name,
    dataType: onnxTypeOf[nd.dtype],
    dims: [...nd.shape],
    rawData: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength),
  };
}

export function hostToOnnx(name: string, dtype: DType, dims: readonly number[], arr: HostArray): OnnxTensor {
  return {
    name,
    dataType: onnxTypeOf[dtype],
    dims: [...dims],
    rawData: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength),
  };
}
