// What generation needs from a model, a tokenizer and the caller.
import type { DecoderModel } from '../models/types.ts';
import type { HostTensor } from '../runtime/index.ts';

/** Any decoder family's model (GPT-2, Llama/Qwen2): generation traces `forward` and reads the config's limits. */
export type { DecoderModel };

/** Parameter values by name: a ParamStore's `values`, or any map of host tensors. */
export type ParamValues = ReadonlyMap<string, HostTensor>;

/** The one tokenizer method generation uses (stop strings and streamed text). */
export interface Detokenizer {
  decode(ids: number[]): string;
}

export interface SamplingOptions {
  /** 0 (the default) picks the most likely token (greedy); above 0 samples from softmax(logits / temperature). */
  temperature?: number;
  /** Sample only among the k most likely tokens (0 or absent: no limit). */
  topK?: number;
  /** Nucleus sampling: the smallest set of tokens whose probabilities sum to at least p (1: no limit). */
  topP?: number;
  /** CTRL's penalty (Keskar et al. 2019) on tokens already in the prompt or output: > 1 discourages repeats. */
  repetitionPenalty?: number;
  /**
   * Seeds mulberry32. A number gives row r the seed `seed + r`; an array gives each row its seed,
   * so one row generated alone with `seed + r` reproduces row r of a batch.
   */
  seed?: number | number[];
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop when the decoded output contains any of these strings (needs `tokenizer`). */
  stop?: string[];
  /** Decodes output for stop strings and streamed text. */
  tokenizer?: Detokenizer;
  /** Tokens that end a row; default the model config's eosTokenId. Pass [] to never stop on a token. */
  eosTokenId?: number | number[];
  /** The id fed in padding slots and for finished rows (never attended to). Default 0. */
  padTokenId?: number;
  /** Reuse keys and values of earlier positions (default true). false re-runs the whole window per token. */
  useCache?: boolean;
}

export type FinishReason = 'eos' | 'stop' | 'length';

/** One streamed token of one row. */
export interface GenerateEvent {
  row: number;
  token: number;
  /** New visible text since the row's previous event ('' while text is held back or without a tokenizer). */
  text: string;
  /** Set on the row's last event. */
  finishReason?: FinishReason;
}

export interface GenerateResult {
  /** New tokens of each row; on a stop string, up to and including the token that completed it. */
  tokens: number[][];
  /** Decoded new text of each row, cut before a stop string (present when a tokenizer was given). */
  text?: string[];
  finishReasons: FinishReason[];
}
