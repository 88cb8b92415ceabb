// The two generation endpoints: a validated request → token rows → decode → OpenAI's response
// objects, whole or as server-sent events. HTTP plumbing (body limits, queue, shutdown) is in server.ts.
import { randomBytes, randomInt } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ServeBackend } from './backend.ts';
import { renderChat } from './chat-template.ts';
import { decode, type DecodeEvent, type FinishReason } from './decode.ts';
import { ApiError } from './errors.ts';
import { promptLogprobs, type TokenLogprob } from './logprobs.ts';
import type { ChatRequest, CompletionRequest, RequestLimits } from './schemas.ts';

export interface HandlerContext {
  backend: ServeBackend;
  limits: RequestLimits & { maxPromptTokens: number };
  signal: AbortSignal;
  /** Counts generated tokens (server stats). */
  onTokens(n: number): void;
}

/** Server-sent events with backpressure: waits for 'drain' when the socket's buffer is full. */
export class EventStream {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  }

  async send(data: unknown): Promise<void> {
    if (this.res.destroyed) return;
    const ok = this.res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    if (!ok)
      await new Promise<void>((resolve) => {
        this.res.once('drain', resolve);
        this.res.once('close', resolve);
      });
  }

  async end(): Promise<void> {
    await this.send('[DONE]');
    this.res.end();
  }
}

// ------------------------------------------------------------------ shared pieces

interface Sampling {
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  repetitionPenalty: number;
  stop: string[];
  seed: number;
}

function samplingOf(b: CompletionRequest | ChatRequest, maxTokens: number): Sampling {
  return {
    maxTokens,
    temperature: b.temperature ?? 1,
    topP: b.top_p ?? 1,
    topK: b.top_k && b.top_k > 0 ? b.top_k : 0,
    repetitionPenalty: b.repetition_penalty ?? 1,
    stop: b.stop === undefined || b.stop === null ? [] : [b.stop].flat(),
    seed: b.seed ?? randomInt(2 ** 31),
  };
}

function checkPrompt(ctx: HandlerContext, ids: readonly number[], maxTokens: number, param: string): void {
  const { backend, limits } = ctx;
  if (ids.length === 0)
    throw new ApiError(400, 'the prompt is empty (no tokens); give at least one token', 'invalid_request_error', param);
  const bad = ids.find((id) => id >= backend.vocabSize);
  if (bad !== undefined)
    throw new ApiError(
      400,
      `token id ${bad} is outside the vocabulary [0, ${backend.vocabSize})`,
      'invalid_request_error',
      param,
    );
  if (ids.length > limits.maxPromptTokens) {
    throw new ApiError(
      400,
      `the prompt has ${ids.length} tokens; this server accepts at most ${limits.maxPromptTokens}`,
      'invalid_request_error',
      param,
      'context_length_exceeded',
    );
  }
  if (ids.length + maxTokens > backend.maxPositions) {
    throw new ApiError(
      400,
      `this model's maximum context length is ${backend.maxPositions} tokens; the prompt has ${ids.length} and max_tokens asks for ${maxTokens} more. Shorten the prompt or lower max_tokens`,
      'invalid_request_error',
      'max_tokens',
      'context_length_exceeded',
    );
  }
}

function encodeText(ctx: HandlerContext, text: string, param: string): number[] {
  const tok = ctx.backend.tokenizer;
  if (!tok)
    throw new ApiError(
      400,
      `model '${ctx.backend.name}' is served without a tokenizer; send token ids (a list of integers) as the prompt`,
      'invalid_request_error',
      param,
    );
  return tok.encode(text);
}

/** How a token is named in log-prob listings: its text, or "token_id:N" (vLLM's return_tokens_as_token_ids; also when there is no tokenizer). */
function namer(ctx: HandlerContext, asIds: boolean): (id: number) => string {
  const tok = ctx.backend.tokenizer;
  return asIds || !tok ? (id) => `token_id:${id}` : (id) => tok.decode([id]);
}

/** Runs decode over rows and collects per-row outputs; `onEvent` sees each event as it comes (streaming). */
async function runRows(
  ctx: HandlerContext,
  prompts: number[][],
  s: Sampling,
  logprobs: number | undefined,
  firstLogits: Float32Array | undefined,
  onEvent?: (e: DecodeEvent) => Promise<void>,
): Promise<{ tokens: number[][]; text: string[]; lps: TokenLogprob[][]; reasons: FinishReason[] }> {
  const { backend } = ctx;
  const tokens = prompts.map((): number[] => []),
    text = prompts.map(() => ''),
    lps = prompts.map((): TokenLogprob[] => []);
  const reasons = prompts.map((): FinishReason => 'length');
  if (s.maxTokens === 0) return { tokens, text, lps, reasons };
  const seeds = prompts.map((_, r) => s.seed + r);
  const opts = {
    maxTokens: s.maxTokens,
    temperature: s.temperature,
    topP: s.topP,
    topK: s.topK,
    repetitionPenalty: s.repetitionPenalty,
    stop: s.stop,
    eosIds: backend.eosIds,
    logprobs,
    tokenizer: backend.tokenizer,
    signal: ctx.signal,
  };
  // Batched rows decode beside every other request's; a row too long for the batch's cache runs alone.
  const batcher = backend.batcher;
  const events =
    batcher && prompts.every((p) => batcher.fits(p.length, s.maxTokens))
      ? batcher.decode(prompts, seeds, opts)
      : decode(prompts, seeds, backend.vocabSize, () => backend.stepper(prompts, s.maxTokens), {
          ...opts,
          firstLogits,
        });
  for await (const e of events) {
    tokens[e.row]!.push(e.token);
    text[e.row] += e.text;
    if (e.logprob) lps[e.row]!.push(e.logprob);
    if (e.finishReason) reasons[e.row] = e.finishReason;
    ctx.onTokens(1);
    if (onEvent) await onEvent(e);
  }
  return { tokens, text, lps, reasons };
}

/** Scores each distinct prompt; returns its per-position log-probs and its last position's logits (the first step's). */
async function scorePrompts(
  ctx: HandlerContext,
  prompts: number[][],
  k: number,
): Promise<{ lps: (TokenLogprob | null)[][]; last: Float32Array[] }> {
  const V = ctx.backend.vocabSize;
  const lps: (TokenLogprob | null)[][] = [],
    last: Float32Array[] = [];
  for (const p of prompts) {
    const logits = await ctx.backend.scorePrompt(p);
    lps.push(promptLogprobs(logits, p, V, k));
    last.push(logits.slice((p.length - 1) * V, p.length * V));
  }
  return { lps, last };
}

function concatRows(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((s, r) => s + r.length, 0));
  let at = 0;
  for (const r of rows) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;

// ------------------------------------------------------------------ /v1/completions

interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

function topObject(lp: TokenLogprob, name: (id: number) => string): Record<string, number> {
  const o: Record<string, number> = {};
  for (const t of lp.top) {
    const key = name(t.id);
    if (!(key in o)) o[key] = t.logprob; // two ids with one text: the likelier one is listed
  }
  return o;
}

/** Character offsets of each token in the decoded text of `ids` (prefix decoding: exact for multi-byte characters). */
function offsets(ctx: HandlerContext, ids: readonly number[], base: number): number[] {
  const tok = ctx.backend.tokenizer;
  if (!tok) return ids.map(() => base);
  return ids.map((_, j) => base + (j === 0 ? 0 : tok.decode(ids.slice(0, j)).length));
}

function completionLogprobs(
  ctx: HandlerContext,
  entries: { ids: number[]; lps: (TokenLogprob | null)[]; base: number }[],
  name: (id: number) => string,
): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  for (const { ids, lps, base } of entries) {
    const offs = offsets(ctx, ids, base);
    ids.forEach((id, j) => {
      const lp = lps[j];
      out.tokens.push(name(id));
      out.token_logprobs.push(lp ? lp.logprob : null);
      out.top_logprobs.push(lp ? topObject(lp, name) : null);
      out.text_offset.push(offs[j]!);
    });
  }
  return out;
}

export async function completions(ctx: HandlerContext, b: CompletionRequest, res: ServerResponse): Promise<unknown> {
  const { backend, limits } = ctx;
  const raw = b.prompt;
  const list: (string | number[])[] =
    typeof raw === 'string'
      ? [raw]
      : raw.length && typeof raw[0] === 'number'
        ? [raw as number[]]
        : (raw as (string | number[])[]);
  const maxTokens = b.max_tokens ?? 16;
  const prompts = list.map((p, i) =>
    typeof p === 'string' ? encodeText(ctx, p, `prompt${list.length > 1 ? `.${i}` : ''}`) : p,
  );
  prompts.forEach((p, i) => checkPrompt(ctx, p, maxTokens, list.length > 1 ? `prompt.${i}` : 'prompt'));
  const promptText = list.map((p, i) => (typeof p === 'string' ? p : (backend.tokenizer?.decode(prompts[i]!) ?? '')));
  const n = b.n ?? 1;
  if (prompts.length * n > limits.maxPrompts)
    throw new ApiError(
      400,
      `${prompts.length} prompts × n ${n} = ${prompts.length * n} completions in one request; this server allows at most ${limits.maxPrompts}`,
      'invalid_request_error',
      'n',
    );
  const k = b.logprobs ?? undefined;
  const echo = b.echo ?? false;
  const name = namer(ctx, b.return_tokens_as_token_ids ?? false);
  const s = samplingOf(b, maxTokens);

  // Echo with log-probs, or prompt_logprobs, scores the prompt; its last position also gives the first generated token's logits.
  const pk = b.prompt_logprobs ?? undefined;
  const scored =
    (echo && k !== undefined) || pk !== undefined
      ? await scorePrompts(ctx, prompts, Math.max(k ?? 0, pk ?? 0))
      : undefined;
  const rows = prompts.flatMap((p) => Array.from({ length: n }, () => p));
  const first = scored
    ? concatRows(prompts.flatMap((_, i) => Array.from({ length: n }, () => scored.last[i]!)))
    : undefined;
  const id = newId('cmpl'),
    created = nowSeconds();
  const promptTokens = prompts.reduce((t, p) => t + p.length, 0) * n;
  const echoed = (row: number) => {
    const p = Math.floor(row / n);
    const lps = scored?.lps[p]?.map((lp) => lp && { ...lp, top: lp.top.slice(0, k ?? 0) });
    return { ids: prompts[p]!, lps: lps ?? prompts[p]!.map(() => null), text: promptText[p]! };
  };
  /** vLLM's prompt_logprobs of a row: null for the first token, then {id: {logprob, rank, decoded_token}} with the token and the top pk. */
  const promptLps = (row: number) => {
    if (pk === undefined || !scored) return {};
    const p = Math.floor(row / n);
    const decoded = (id: number) => backend.tokenizer?.decode([id]) ?? `token_id:${id}`;
    return {
      prompt_logprobs: scored.lps[p]!.map((lp) => {
        if (!lp) return null;
        const entry: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
        entry[lp.id] = { logprob: lp.logprob, rank: lp.rank, decoded_token: decoded(lp.id) };
        lp.top
          .slice(0, pk)
          .forEach((t, r) => (entry[t.id] ??= { logprob: t.logprob, rank: r + 1, decoded_token: decoded(t.id) }));
        return entry;
      }),
    };
  };

  if (b.stream) {
    const stream = new EventStream(res);
    const chunk = (choices: unknown[], usage?: unknown) => ({
      id,
      object: 'text_completion',
      created,
      model: backend.name,
      choices,
      ...(usage ? { usage } : {}),
    });
    if (echo) {
      for (let r = 0; r < rows.length; r++) {
        const e = echoed(r);
        await stream.send(
          chunk([
            {
              index: r,
              text: e.text,
              logprobs: k === undefined ? null : completionLogprobs(ctx, [{ ids: e.ids, lps: e.lps, base: 0 }], name),
              finish_reason: maxTokens === 0 ? 'length' : null,
            },
          ]),
        );
      }
    }
    if (pk !== undefined)
      for (let r = 0; r < rows.length; r++)
        await stream.send(chunk([{ index: r, text: '', logprobs: null, finish_reason: null, ...promptLps(r) }]));
    const done = rows.map((): number[] => []);
    const out = await runRows(ctx, rows, s, k, first, async (e) => {
      const base =
        (echo ? echoed(e.row).text.length : 0) +
        (done[e.row]!.length ? (backend.tokenizer?.decode(done[e.row]!).length ?? 0) : 0);
      done[e.row]!.push(e.token);
      const lp =
        k === undefined || !e.logprob
          ? null
          : completionLogprobs(ctx, [{ ids: [e.token], lps: [e.logprob], base }], name);
      await stream.send(chunk([{ index: e.row, text: e.text, logprobs: lp, finish_reason: e.finishReason ?? null }]));
    });
    if (b.stream_options?.include_usage) {
      const completionTokens = out.tokens.reduce((t, x) => t + x.length, 0);
      await stream.send(
        chunk([], {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        }),
      );
    }
    await stream.end();
    return undefined;
  }

  const out = await runRows(ctx, rows, s, k, first);
  const completionTokens = out.tokens.reduce((t, x) => t + x.length, 0);
  return {
    id,
    object: 'text_completion',
    created,
    model: backend.name,
    choices: rows.map((_, r) => {
      const e = echoed(r);
      const base = echo ? e.text.length : 0;
      const parts = [
        ...(echo ? [{ ids: e.ids, lps: e.lps, base: 0 }] : []),
        { ids: out.tokens[r]!, lps: out.lps[r]!, base },
      ];
      return {
        index: r,
        text: (echo ? e.text : '') + out.text[r]!,
        logprobs: k === undefined ? null : completionLogprobs(ctx, parts, name),
        finish_reason: out.reasons[r],
        ...promptLps(r),
      };
    }),
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

// ------------------------------------------------------------------ /v1/chat/completions

function chatLogprob(lp: TokenLogprob, name: (id: number) => string) {
  const entry = (id: number, logprob: number) => {
    const token = name(id);
    return { token, logprob, bytes: [...Buffer.from(token, 'utf8')] };
  };
  return { ...entry(lp.id, lp.logprob), top_logprobs: lp.top.map((t) => entry(t.id, t.logprob)) };
}

export async function chatCompletions(ctx: HandlerContext, b: ChatRequest, res: ServerResponse): Promise<unknown> {
  const { backend, limits } = ctx;
  if (!backend.tokenizer)
    throw new ApiError(
      400,
      `model '${backend.name}' is served without a tokenizer, so chat messages cannot be encoded; use /v1/completions with token ids`,
      'invalid_request_error',
      'messages',
    );
  if (b.top_logprobs != null && !b.logprobs)
    throw new ApiError(400, 'top_logprobs needs logprobs: true', 'invalid_request_error', 'top_logprobs');
  const text = renderChat(b.messages, backend.tokenizer, b.chat_template_kwargs ?? {});
  const prompt = backend.tokenizer.encode(text);
  const room = Math.max(0, Math.min(backend.maxPositions - prompt.length, limits.maxTokens));
  const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? room;
  checkPrompt(ctx, prompt, maxTokens, 'messages');
  const n = b.n ?? 1;
  const k = b.logprobs ? (b.top_logprobs ?? 0) : undefined;
  const name = namer(ctx, b.return_tokens_as_token_ids ?? false);
  const s = samplingOf(b, maxTokens);
  const rows = Array.from({ length: n }, () => prompt);
  const id = newId('chatcmpl'),
    created = nowSeconds();
  const usage = (completion: number) => ({
    prompt_tokens: prompt.length * n,
    completion_tokens: completion,
    total_tokens: prompt.length * n + completion,
  });

  if (b.stream) {
    const stream = new EventStream(res);
    const chunk = (choices: unknown[], u?: unknown) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: backend.name,
      choices,
      ...(u ? { usage: u } : {}),
    });
    for (let r = 0; r < n; r++)
      await stream.send(
        chunk([{ index: r, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
      );
    const out = await runRows(ctx, rows, s, k, undefined, async (e) => {
      const lp = k === undefined || !e.logprob ? null : { content: [chatLogprob(e.logprob, name)] };
      await stream.send(
        chunk([
          {
            index: e.row,
            delta: e.text ? { content: e.text } : {},
            logprobs: lp,
            finish_reason: e.finishReason ?? null,
          },
        ]),
      );
    });
    if (maxTokens === 0)
      for (let r = 0; r < n; r++)
        await stream.send(chunk([{ index: r, delta: {}, logprobs: null, finish_reason: 'length' }]));
    if (b.stream_options?.include_usage)
      await stream.send(chunk([], usage(out.tokens.reduce((t, x) => t + x.length, 0))));
    await stream.end();
    return undefined;
  }

  const out = await runRows(ctx, rows, s, k, undefined);
  return {
    id,
    object: 'chat.completion',
    created,
    model: backend.name,
    choices: rows.map((_, r) => ({
      index: r,
      message: { role: 'assistant', content: out.text[r]! },
      logprobs: k === undefined ? null : { content: out.lps[r]!.map((lp) => chatLogprob(lp, name)) },
      finish_reason: out.reasons[r],
    })),
    usage: usage(out.tokens.reduce((t, x) => t + x.length, 0)),
  };
}
