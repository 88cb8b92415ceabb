// Conversions between OnnxTensor (raw little-endian bytes, as ONNX stores them) and JS typed arrays.
// One table row per data type, so a new type is one line and a missing one is a compile error.
import { OnnxDataType, type OnnxDataTypeCode, type OnnxTensor } from './model.ts';

export type OnnxTypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

interface TypedArrayCtor {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): OnnxTypedArray;
  new (length: number): OnnxTypedArray;
}

interface ElementInfo {
  name: string;
  /** null for STRING, which has no fixed-width byte form and cannot live in raw_data. */
  array: TypedArrayCtor | null;
}

// FLOAT16 and BFLOAT16 travel as their bit patterns in a Uint16Array (what onnxruntime-web/node expect
// for 'float16'); BOOL is one byte per element, as ONNX's raw_data and onnxruntime both use.
export const ELEMENT = {
  [OnnxDataType.FLOAT]: { name: 'FLOAT', array: Float32Array },
  [OnnxDataType.UINT8]: { name: 'UINT8', array: Uint8Array },
  [OnnxDataType.INT8]: { name: 'INT8', array: Int8Array },
  [OnnxDataType.UINT16]: { name: 'UINT16', array: Uint16Array },
  [OnnxDataType.INT16]: { name: 'INT16', array: Int16Array },
  [OnnxDataType.INT32]: { name: 'INT32', array: Int32Array },
  [OnnxDataType.INT64]: { name: 'INT64', array: BigInt64Array },
  [OnnxDataType.STRING]: { name: 'STRING', array: null },
  [OnnxDataType.BOOL]: { name: 'BOOL', array: Uint8Array },
  [OnnxDataType.FLOAT16]: { name: 'FLOAT16', array: Uint16Array },
  [OnnxDataType.DOUBLE]: { name: 'DOUBLE', array: Float64Array },
  [OnnxDataType.UINT32]: { name: 'UINT32', array: Uint32Array },
  [OnnxDataType.UINT64]: { name: 'UINT64', array: BigUint64Array },
  [OnnxDataType.BFLOAT16]: { name: 'BFLOAT16', array: Uint16Array },
} satisfies Record<OnnxDataTypeCode, ElementInfo> as Record<OnnxDataTypeCode, ElementInfo>;

export function isOnnxDataType(code: number): code is OnnxDataTypeCode {
  return Object.hasOwn(ELEMENT, code);
}

// ONNX raw_data is little-endian; on a big-endian host a byte view would silently swap every value.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function assertLittleEndian(): void {
  if (!HOST_IS_LITTLE_ENDIAN) {
    throw new Error('ONNX tensors are little-endian and this host is big-endian; byte swapping is not implemented');
  }
}

/** Number of elements a tensor of these dims holds (1 for a scalar, dims = []). */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

function fixedWidthArray(t: Pick<OnnxTensor, 'name' | 'dataType'>): TypedArrayCtor {
  const info = ELEMENT[t.dataType];
  if (!info) throw new Error(`tensor '${t.name}': unknown ONNX data type ${t.dataType}`);
  if (!info.array)
    throw new Error(`tensor '${t.name}': ${info.name} tensors have no fixed-width form and are not supported`);
  return info.array;
}

/** The exact rawData length a tensor of this type and dims must have; throws for STRING. */
export function tensorByteLength(t: Pick<OnnxTensor, 'name' | 'dataType' | 'dims'>): number {
  return elementCount(t.dims) * fixedWidthArray(t).BYTES_PER_ELEMENT;
}

/**
 * A typed array over the tensor's elements. A view (no copy) when rawData is suitably aligned,
 * otherwise a copy; either way, do not rely on writes reaching the tensor.
 */
export function tensorToTypedArray(t: OnnxTensor): OnnxTypedArray {
  assertLittleEndian();
  const Ctor = fixedWidthArray(t);
  const size = Ctor.BYTES_PER_ELEMENT;
  const expected = tensorByteLength(t);
  if (t.rawData.byteLength !== expected) {
    throw new Error(`tensor '${t.name}': rawData has ${t.rawData.byteLength} bytes, dims [${t.dims}] need ${expected}`);
  }
  const bytes = t.rawData.byteOffset % size === 0 ? t.rawData : t.rawData.slice();
  return new Ctor(bytes.buffer, bytes.byteOffset, expected / size);
}

function dataTypeOf(array: OnnxTypedArray): OnnxDataTypeCode {
  if (array instanceof Float32Array) return OnnxDataType.FLOAT;
  if (array instanceof Float64Array) return OnnxDataType.DOUBLE;
  if (array instanceof Int8Array) return OnnxDataType.INT8;
  if (array instanceof Uint8Array) return OnnxDataType.UINT8;
  if (array instanceof Int16Array) return OnnxDataType.INT16;
  if (array instanceof Uint16Array) return OnnxDataType.UINT16;
  if (array instanceof Int32Array) return OnnxDataType.INT32;
  if (array instanceof Uint32Array) return OnnxDataType.UINT32;
  if (array instanceof BigInt64Array) return OnnxDataType.INT64;
  return OnnxDataType.UINT64;
}

/**
 * An OnnxTensor over the array's bytes. rawData is a view of the array (no copy), so later writes to
 * the array show in the tensor. dataType defaults from the array type; pass it for the ambiguous
 * cases: FLOAT16 or BFLOAT16 for a Uint16Array of bit patterns, BOOL for a Uint8Array of 0/1.
 */
export function typedArrayToTensor(
  name: string,
  dims: readonly number[],
  array: OnnxTypedArray,
  dataType: OnnxDataTypeCode = dataTypeOf(array),
): OnnxTensor {
  assertLittleEndian();
  const Ctor = fixedWidthArray({ name, dataType });
  if (Ctor.BYTES_PER_ELEMENT !== array.BYTES_PER_ELEMENT) {
    throw new Error(
      `tensor '${name}': ${ELEMENT[dataType].name} needs ${Ctor.BYTES_PER_ELEMENT}-byte elements, ` +
        `got a ${array.constructor.name}; pass a ${Ctor.name}`,
    );
  }
  if (elementCount(dims) !== array.length) {
    throw new Error(`tensor '${name}': dims [${dims}] hold ${elementCount(dims)} elements, array has ${array.length}`);
  }
  return {
    name,
    dataType,
    dims: [...dims],
    rawData: new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
  };
}
