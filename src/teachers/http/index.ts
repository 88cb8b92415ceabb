// LLMs behind OpenAI-compatible APIs as teachers (vLLM, OpenAI, retort serve). See README.md.
export {
  alignToStudent,
  padRow,
  PAD_LOGPROB,
  textToId,
  tokenOffsets,
  type AlignedTargets,
  type AlignStats,
  type TextPrediction,
} from './align.ts';
export { CacheLockedError, RequestCache } from './cache.ts';
export {
  BudgetExhaustedError,
  HttpClient,
  HttpError,
  retryAfterMs,
  type Budget,
  type ClientEvent,
  type ClientStats,
  type HttpClientOptions,
} from './client.ts';
export { redact, resolveApiKey, type KeySource } from './credentials.ts';
export {
  HttpTeacher,
  type Classification,
  type ClassifyOptions,
  type Generated,
  type GenerateOptions,
  type HttpTeacherOptions,
} from './teacher.ts';
