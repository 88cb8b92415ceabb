// `retort serve`: an OpenAI-compatible server over a Retort model or an ONNX decoder file.
export {
  loadBackend,
  onnxBackend,
  retortBackend,
  type OnnxBackendOptions,
  type RetortBackendOptions,
  type ServeBackend,
} from './backend.ts';
export { DEFAULT_CHAT_TEMPLATE, renderChat } from './chat-template.ts';
export { decode, type DecodeEvent, type DecodeOptions } from './decode.ts';
export { ApiError } from './errors.ts';
export { promptLogprobs, tokenLogprob, topIndices, type TokenLogprob } from './logprobs.ts';
export { BoundedQueue, QueueFullError } from './queue.ts';
export {
  chatSchema,
  completionSchema,
  type ChatRequest,
  type CompletionRequest,
  type RequestLimits,
} from './schemas.ts';
export { startServer, type RunningServer, type ServeOptions, type ServerStats } from './server.ts';
