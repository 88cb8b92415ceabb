// The graph layer's public API: symbolic tensors and the op functions that build them.
export type { DType } from './dtype.ts';
export { isFloat, isInt } from './dtype.ts';
export { ndarray, sizeOf, type NDArray } from './ndarray.ts';
export type {
  GradRule,
  LowerCtx,
  LoweredAttr,
  LowerTensors,
  OpDef,
  SubgraphAttr,
  SubgraphSpec,
  SubgraphValue,
  TypeInfo,
} from './op.ts';
export { ShapeError } from './shape.ts';
export {
  apply,
  constant,
  input,
  param,
  random,
  Tensor,
  topoSort,
  withParamPrefix,
  type LeafKind,
  type ParamInit,
} from './tensor.ts';
export { allOps } from './registry.ts';
export { constantValue, lift, scalar, type TensorLike } from './ops/scalar.ts';
export * from './ops/elementwise.ts';
export { matmul } from './ops/matmul.ts';
export { attachGrad, attachGradRule, chunkLoop, type ChunkLoopAttrs } from './ops/chunk-loop.ts';
export { evaluateRef } from './evaluate.ts';
export { reduceMax, reduceMean, reduceSum, sumToShape } from './ops/reduce.ts';
export { concat, expand, pad, reshape, slice, split, swapAxes, transpose, unsqueeze } from './ops/shape-ops.ts';
export {
  addAtLastAxis,
  causalMask,
  crossEntropy,
  dropout,
  gather,
  gelu,
  layerNorm,
  logSoftmax,
  oneHot,
  rmsNorm,
  scatterAddRows,
  softmax,
  takeAlongLastAxis,
  type GeluApprox,
} from './ops/nn.ts';
export { topK } from './ops/topk.ts';
