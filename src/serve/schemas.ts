// Request bodies of the OpenAI-compatible endpoints, validated with zod at the boundary. Unknown
// fields are dropped (clients send `user`, `metadata`, ...); every field Retort reads is checked
// for type and range, so a bad value is a 400 naming the field, never a crash mid-generation.
// vLLM's extensions that teachers rely on are accepted too: top_k, repetition_penalty,
// return_tokens_as_token_ids (top_logprobs keys "token_id:N", exact for any tokenizer).
import { z } from 'zod';

/** Per-server ceilings the schemas check against. */
export interface RequestLimits {
  /** Largest max_tokens accepted. */
  maxTokens: number;
  /** Largest logprobs / top_logprobs. */
  maxLogprobs: number;
  /** Largest n (choices per prompt). */
  maxN: number;
  /** Most prompts in one completions request. */
  maxPrompts: number;
}

const tokenId = z.number().int().nonnegative();
const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullish();

function sampling(l: RequestLimits) {
  return {
    model: z.string().min(1),
    max_tokens: z.number().int().nonnegative().max(l.maxTokens).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().gt(0).max(1).nullish(),
    top_k: z.number().int().min(-1).nullish(),
    repetition_penalty: z.number().gt(0).max(10).nullish(),
    // Accepted for compatibility; only 0 is supported (nonzero is refused rather than ignored).
    presence_penalty: z.literal(0).nullish(),
    frequency_penalty: z.literal(0).nullish(),
    n: z.number().int().min(1).max(l.maxN).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
    stop,
    seed: z.number().int().nullish(),
    user: z.string().nullish(),
    return_tokens_as_token_ids: z.boolean().nullish(),
  };
}

export function completionSchema(l: RequestLimits) {
  return z.object({
    ...sampling(l),
    prompt: z.union([
      z.string(),
      z.array(z.string()).min(1).max(l.maxPrompts),
      z.array(tokenId).min(1),
      z.array(z.array(tokenId).min(1)).min(1).max(l.maxPrompts),
    ]),
    echo: z.boolean().nullish(),
    logprobs: z.number().int().min(0).max(l.maxLogprobs).nullish(),
    /** vLLM's prompt scoring: each prompt token's log-prob, rank and the k likeliest tokens at its position. */
    prompt_logprobs: z.number().int().min(0).max(l.maxLogprobs).nullish(),
    suffix: z.null().optional(),
  });
}
export type CompletionRequest = z.output<ReturnType<typeof completionSchema>>;

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(textPart)]).nullable(),
  name: z.string().optional(),
});

export function chatSchema(l: RequestLimits) {
  return z.object({
    ...sampling(l),
    messages: z.array(message).min(1),
    max_completion_tokens: z.number().int().nonnegative().max(l.maxTokens).nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(l.maxLogprobs).nullish(),
    /** Extra variables for the chat template (vLLM's chat_template_kwargs). */
    chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
  });
}
export type ChatRequest = z.output<ReturnType<typeof chatSchema>>;
export type ChatMessage = z.output<typeof message>;
