// Values as they live between runs: a dtype, a shape and the typed array onnxruntime reads
// and writes directly (no conversion on the hot path).
import type { DType } from '../graph/index.ts';
import { hostArray, type HostArray } from '../onnx/host.ts';

export type { HostArray };

export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: HostArray;
}

export function hostTensor(dtype: DType, shape: readonly number[], values: ArrayLike<number> | HostArray): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (values.length !== n)
    throw new Error(`hostTensor: ${values.length} values for shape [${shape.join(', ')}] (${n} elements)`);
  const ok =
    (dtype === 'float32' && values instanceof Float32Array) ||
    (dtype === 'float64' && values instanceof Float64Array) ||
    (dtype === 'int64' && values instanceof BigInt64Array) ||
    (dtype === 'int32' && values instanceof Int32Array) ||
    (dtype === 'bool' && values instanceof Uint8Array);
  const data = ok
    ? (values as HostArray)
    : hostArray(dtype, values instanceof BigInt64Array ? Array.from(values, Number) : (values as ArrayLike<number>));
  return { dtype, shape: [...shape], data };
}

/** Element values as plain numbers (int64 through Number: exact below 2^53). */
export function toNumbers(t: HostTensor): Float64Array {
  if (t.data instanceof BigInt64Array) return Float64Array.from(t.data, Number);
  return Float64Array.from(t.data as ArrayLike<number>);
}
