// Plain numbers stand for constants of the other operand's dtype, so model code can say
// `mul(x, 0.5)` the way it would in PyTorch.
import { ndarray } from '../ndarray.ts';
import { constant, Tensor } from '../tensor.ts';
import type { DType } from '../dtype.ts';

export type TensorLike = Tensor | number;

export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return constant(ndarray([], dtype, [value]));
}

export function lift(x: TensorLike, like: TensorLike): Tensor {
  if (x instanceof Tensor) return x;
  return scalar(x, like instanceof Tensor ? like.dtype : 'float32');
}

/** The numeric value of a rank-0 constant, or undefined for anything else. */
export function constantValue(t: Tensor): number | undefined {
  return t.leaf === 'constant' && t.size === 1 ? t.value!.data[0] : undefined;
}
