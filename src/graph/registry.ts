// Every op Retort has, by name. The engines never look ops up here (a tensor carries its op);
// this table exists so tests can check that each op has cases and docs can list them.
import type { OpDef } from './op.ts';
import { binaryOps, castOp, compareOps, logicalNotOp, stopGradientOp, unaryOps, whereOp } from './ops/elementwise.ts';
import { attachGradOp, chunkLoopOp, loopOutputOp } from './ops/chunk-loop.ts';
import { matmulOp } from './ops/matmul.ts';
import {
  addAtLastAxisOp,
  crossEntropyOp,
  gatherOp,
  geluOp,
  layerNormOp,
  logSoftmaxOp,
  oneHotOp,
  rmsNormOp,
  scatterAddRowsOp,
  softmaxOp,
} from './ops/nn.ts';
import { reduceOps } from './ops/reduce.ts';
import { topKIndicesOp, topKValuesOp } from './ops/topk.ts';
import { concatOp, expandOp, padOp, reshapeOp, sliceOp, transposeOp } from './ops/shape-ops.ts';

export const allOps: Record<string, OpDef> = {
  ...unaryOps,
  ...binaryOps,
  ...compareOps,
  where: whereOp,
  logicalNot: logicalNotOp,
  cast: castOp,
  stopGradient: stopGradientOp,
  matmul: matmulOp,
  chunkLoop: chunkLoopOp,
  loopOutput: loopOutputOp,
  attachGrad: attachGradOp,
  ...reduceOps,
  reshape: reshapeOp,
  transpose: transposeOp,
  slice: sliceOp,
  pad: padOp,
  concat: concatOp,
  expand: expandOp,
  softmax: softmaxOp,
  logSoftmax: logSoftmaxOp,
  layerNorm: layerNormOp,
  rmsNorm: rmsNormOp,
  gelu: geluOp,
  gather: gatherOp,
  scatterAddRows: scatterAddRowsOp,
  oneHot: oneHotOp,
  addAtLastAxis: addAtLastAxisOp,
  crossEntropy: crossEntropyOp,
  topKValues: topKValuesOp,
  topKIndices: topKIndicesOp,
};
