// The element types a Retort graph can carry. Floats are what models compute in;
// int64 carries token ids and labels (ONNX's ScatterND wants it);
// bool carries masks.
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64';
export const isInt = (d: DType): boolean => d === 'int64' || d === 'int32';
