export { hostTensor, toNumbers, type HostArray, type HostTensor } from './host.ts';
export { completeFeeds, type CompileOptions, type Executor, type Program, type RunOptions } from './program.ts';
export { ReferenceExecutor } from './reference.ts';
export { defaultThreads, OrtExecutor, OrtProgram, type OrtCompileOptions, type OrtExecutorOptions } from './ort.ts';
export { mulberry32, randomFeed, rng32, type Rng } from './random.ts';
export { initialValue, ParamStore } from './params.ts';
export { defaultExecutor } from './default.ts';
export { bakedWeights, SHARE_WEIGHTS_ABOVE, type WeightsMode } from './weights.ts';
