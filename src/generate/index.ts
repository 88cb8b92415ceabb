// Text generation over any decoder model: sampling, stop strings, streaming, batches, KV cache.
export { Generator } from './generator.ts';
export { ModelRunner, type KvShape, type RunnerOptions } from './runner.ts';
export { applyRepetitionPenalty, argmax, candidates, makeSampler, type Sampler } from './sampling.ts';
export { CAPACITY_QUANTUM, CachedStepper, roundCapacity, SlotLayout, WindowStepper, type Stepper } from './steppers.ts';
export { TextTracker } from './stop.ts';
export type {
  DecoderModel,
  Detokenizer,
  FinishReason,
  GenerateEvent,
  GenerateOptions,
  GenerateResult,
  ParamValues,
  SamplingOptions,
} from './types.ts';
