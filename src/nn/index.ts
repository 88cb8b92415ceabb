export {
  attention,
  mergeHeads,
  repeatKv,
  splitHeads,
  type AttentionOptions,
  type AttentionResult,
} from './attention.ts';
export { Embedding, GeluMlp, LayerNorm, Linear, RMSNorm, SwiGluMlp, type LinearOptions } from './layers.ts';
export { joinName, Module } from './module.ts';
