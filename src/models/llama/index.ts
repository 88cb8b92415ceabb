export {
  llamaConfigFromHf,
  llamaConfigSchema,
  llamaConfigToHf,
  llamaDialects,
  ropeScalingSchema,
  type LlamaConfig,
  type LlamaConfigInput,
  type LlamaDialect,
  type RopeScaling,
} from './config.ts';
export { Llama } from './model.ts';
export { applyRope, gatherRope, ropeInvFreq, ropeTables, rotateHalf, type RopeTables } from './rope.ts';
