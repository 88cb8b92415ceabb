// An LLM behind an OpenAI-compatible API as a teacher:
//   score()            top-k logit KD on given tokens: /v1/completions with echo, logprobs k and
//                      one greedy token (its top-k is the distribution after the last prompt
//                      token). With tokenIds (vLLM, retort serve) prompts go as token ids and
//                      candidates come back as "token_id:N": exact in the teacher's vocabulary.
//   scoreForStudent()  the same on text, aligned to another tokenizer by character spans (align.ts).
//   complete(), chat() sequence-level KD and synthetic data: generated text.
//   classify()         labels by prompting: the label distribution from the first answer token's top_logprobs.
// Every request goes through HttpClient: concurrency, retries, budget and the response cache.
import { createHash } from 'node:crypto';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import { hostTensor } from '../../runtime/index.ts';
import {
  checkRequest,
  TeacherError,
  type ScoreRequest,
  type ScoreResult,
  type Teacher,
  type TeacherInfo,
} from '../teacher.ts';
import { alignToStudent, padRow, textToId, type AlignedTargets, type TextPrediction } from './align.ts';
import { HttpClient, type HttpClientOptions } from './client.ts';

export interface HttpTeacherOptions extends Omit<HttpClientOptions, 'namespace'> {
  /** The model name the API serves. */
  model: string;
  name?: string;
  /** The teacher's tokenizer (its tokenizer.json), when known: needed for score() without tokenIds and for vocabSize. */
  tokenizer?: Tokenizer;
  /**
   * Send prompts as token ids and ask for return_tokens_as_token_ids (vLLM, retort serve). Default
   * true; set false for APIs that take text only (OpenAI), where score() re-checks the tokenization.
   */
  tokenIds?: boolean;
  /** The teacher's vocabulary size; default the tokenizer's. */
  vocabSize?: number;
  /** Identifies the weights behind the API (a version tag): part of the fingerprint and every cache key. */
  version?: string;
}

/** Completions logprobs object (OpenAI's legacy format, which vLLM and retort serve return). */
interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}
interface CompletionResponse {
  choices: { text: string; logprobs: CompletionLogprobs | null; finish_reason: string }[];
  usage?: { total_tokens?: number };
}
interface ChatResponse {
  choices: {
    message: { content: string | null };
    finish_reason: string;
    logprobs?: {
      content: { token: string; logprob: number; top_logprobs: { token: string; logprob: number }[] }[];
    } | null;
  }[];
}

export interface GenerateOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  /** Part of the request (and so of its cache key): give each sample of one prompt its own seed. */
  seed?: number;
}

export interface Generated {
  text: string;
  finishReason: string;
}

export interface ClassifyOptions {
  labels: readonly string[];
  /** The system prompt; default asks for one of the labels and nothing else. */
  instruction?: string;
  /** Alternatives asked for at the first answer token (default 10). */
  topLogprobs?: number;
}

export interface Classification {
  /** The most likely label. */
  label: string;
  /** Probability of each label, renormalized over the labels (from the first answer token's top_logprobs). */
  probs: Record<string, number>;
  /** The answer as written. */
  text: string;
}

const ID_KEY = /^token_id:(\d+)$/;

export class HttpTeacher implements Teacher {
  readonly kind = 'http';
  readonly name: string;
  readonly fingerprint: string;
  readonly info: TeacherInfo;
  readonly tokenizer?: Tokenizer;
  readonly capabilities = { logits: false, topK: true, hidden: false, attentions: false };
  readonly client: HttpClient;
  private readonly tokenIds: boolean;

  /** The options, less where the key came from (env, credentialsFile): safe to log. */
  readonly o: Omit<HttpTeacherOptions, 'env' | 'credentialsFile'>;

  constructor(options: HttpTeacherOptions) {
    const { env: _env, credentialsFile: _file, ...o } = options;
    this.o = o;
    this.name = o.name ?? o.model;
    this.tokenizer = o.tokenizer;
    this.tokenIds = o.tokenIds ?? true;
    const vocabSize = o.vocabSize ?? o.tokenizer?.vocabSize;
    if (vocabSize === undefined)
      throw new TeacherError(
        `HTTP teacher '${this.name}': give vocabSize or the teacher's tokenizer; top-k ids must lie in a known vocabulary`,
      );
    this.info = { vocabSize };
    const tok = o.tokenizer
      ? createHash('sha256')
          .update(
            JSON.stringify(
              (o.tokenizer as { json?: unknown }).json ?? [o.tokenizer.vocabSize, o.tokenizer.idToToken(0)],
            ),
          )
          .digest('hex')
          .slice(0, 8)
      : 'none';
    this.fingerprint = `http:${o.model}:${o.version ?? 'unversioned'}:${tok}`;
    this.client = new HttpClient({ ...options, namespace: this.fingerprint });
  }

  close(): void {
    this.client.close();
  }

  /** Top-k log-probs at every position of every row: (B, T, k). */
  async score(req: ScoreRequest): Promise<ScoreResult> {
    checkRequest(this, req);
    const k = req.topK;
    if (k === undefined)
      throw new TeacherError(
        `HTTP teacher '${this.name}': ask for topK; an API gives no logits, hidden states or attentions`,
      );
    const [B, T] = req.ids.shape as [number, number];
    const rows = Array.from({ length: B }, (_, b) =>
      Array.from(req.ids.data.subarray(b * T, (b + 1) * T) as ArrayLike<bigint | number>, Number),
    );
    const scored = await Promise.all(rows.map((r) => this.scoreRow(r, k)));
    const ids = new BigInt64Array(B * T * k),
      lps = new Float32Array(B * T * k);
    scored.forEach((row, b) =>
      row.forEach((pos, t) =>
        pos.ids.forEach((id, j) => {
          ids[(b * T + t) * k + j] = BigInt(id);
          lps[(b * T + t) * k + j] = pos.logprobs[j]!;
        }),
      ),
    );
    return { topk: { ids: hostTensor('int64', [B, T, k], ids), logprobs: hostTensor('float32', [B, T, k], lps) } };
  }

  private idOf(key: string): number | undefined {
    const m = ID_KEY.exec(key);
    if (m) return Number(m[1]);
    const tok = this.tokenizer;
    if (!tok) return undefined;
    return tok.tokenToId(key) ?? textToId(tok).get(key);
  }

  /** One row: position t's top-k is entry t + 1 of the echoed prompt's top_logprobs; the last position's is the generated token's. */
  private async scoreRow(ids: number[], k: number): Promise<{ ids: number[]; logprobs: number[] }[]> {
    const tok = this.tokenizer;
    if (!this.tokenIds && !tok)
      throw new TeacherError(
        `HTTP teacher '${this.name}': without tokenIds the prompt is sent as text, which needs the teacher's tokenizer`,
      );
    const prompt = this.tokenIds ? ids : tok!.decode(ids);
    const res = await this.client.post<CompletionResponse>('/completions', {
      model: this.o.model,
      prompt,
      max_tokens: 1,
      temperature: 0,
      echo: true,
      logprobs: k,
      ...(this.tokenIds ? { return_tokens_as_token_ids: true } : {}),
    });
    const lp = res.choices?.[0]?.logprobs;
    if (!lp || !Array.isArray(lp.top_logprobs))
      throw new TeacherError(
        `HTTP teacher '${this.name}': the completions answer has no logprobs; the server must support echo with logprobs (vLLM and retort serve do)`,
      );
    const T = ids.length;
    // Servers that add a BOS token echo it too: align on the last T + 1 entries.
    const tops = lp.top_logprobs.slice(-(T + 1));
    if (tops.length !== T + 1)
      throw new TeacherError(
        `HTTP teacher '${this.name}': sent ${T} tokens but the server echoed ${lp.top_logprobs.length - 1}; its tokenizer splits this text differently, use scoreForStudent (alignment by text spans)`,
      );
    if (!this.tokenIds) {
      const echoed = lp.tokens.slice(-(T + 1), -1);
      const mismatch = echoed.findIndex((s, j) => this.idOf(s) !== ids[j]);
      if (mismatch >= 0)
        throw new TeacherError(
          `HTTP teacher '${this.name}': the server tokenized the text differently at token ${mismatch} (${JSON.stringify(echoed[mismatch])}); use scoreForStudent`,
        );
    }
    return tops.slice(1).map((top) => {
      const entries = Object.entries(top ?? {})
        .map(([key, v]) => [this.idOf(key), v] as const)
        .filter(([id]) => id !== undefined && id < this.info.vocabSize) as [number, number][];
      entries.sort((a, b) => b[1] - a[1]);
      const rowIds: number[] = [],
        rowLps: number[] = [];
      for (const [id, v] of entries) if (rowIds.length < k && !rowIds.includes(id)) rowIds.push(id), rowLps.push(v);
      padRow(rowIds, rowLps, k);
      return { ids: rowIds, logprobs: rowLps };
    });
  }

  /** The teacher's predictions over a text, by character offset of the predicted token (text mode, any server). */
  async scoreText(text: string, k: number): Promise<TextPrediction[]> {
    const res = await this.client.post<CompletionResponse>('/completions', {
      model: this.o.model,
      prompt: text,
      max_tokens: 1,
      temperature: 0,
      echo: true,
      logprobs: k,
    });
    const lp = res.choices?.[0]?.logprobs;
    if (!lp)
      throw new TeacherError(
        `HTTP teacher '${this.name}': the completions answer has no logprobs; the server must support echo with logprobs`,
      );
    const out: TextPrediction[] = [];
    lp.top_logprobs.forEach((top, j) => {
      if (!top || j === 0) return;
      const offset = Math.min(lp.text_offset[j] ?? text.length, text.length);
      out.push({
        offset,
        top: Object.entries(top)
          .map(([t, v]) => ({ text: t, logprob: v }))
          .sort((a, b) => b.logprob - a.logprob),
      });
    });
    return out;
  }

  /** Top-k targets for a student with another tokenizer: scoreText, then alignment by character spans. */
  async scoreForStudent(texts: readonly string[], student: Tokenizer, k: number): Promise<AlignedTargets[]> {
    return Promise.all(texts.map(async (t) => alignToStudent(student, t, await this.scoreText(t, k), k)));
  }

  /** Sequence-level KD / synthetic data: a completion of `prompt`. */
  async complete(prompt: string, o: GenerateOptions = {}): Promise<Generated> {
    const res = await this.client.post<CompletionResponse>('/completions', {
      model: this.o.model,
      prompt,
      max_tokens: o.maxTokens ?? 256,
      temperature: o.temperature ?? 1,
      top_p: o.topP ?? 1,
      ...(o.stop?.length ? { stop: o.stop } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
    });
    const c = res.choices?.[0];
    if (!c) throw new TeacherError(`HTTP teacher '${this.name}': the completions answer has no choices`);
    return { text: c.text, finishReason: c.finish_reason };
  }

  async chat(messages: readonly { role: string; content: string }[], o: GenerateOptions = {}): Promise<Generated> {
    const res = await this.client.post<ChatResponse>('/chat/completions', {
      model: this.o.model,
      messages,
      max_tokens: o.maxTokens ?? 256,
      temperature: o.temperature ?? 1,
      top_p: o.topP ?? 1,
      ...(o.stop?.length ? { stop: o.stop } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
    });
    const c = res.choices?.[0];
    if (!c) throw new TeacherError(`HTTP teacher '${this.name}': the chat answer has no choices`);
    return { text: c.message.content ?? '', finishReason: c.finish_reason };
  }

  /**
   * A label for `text` by prompting. Each label's probability is the mass of the first-token
   * candidates that begin it (case and surrounding space ignored), renormalized over the labels; the
   * written answer decides when no candidate matches.
   */
  async classify(text: string, o: ClassifyOptions): Promise<Classification> {
    if (o.labels.length < 2) throw new TeacherError('classify: give at least two labels');
    const instruction =
      o.instruction ??
      `Classify the text into exactly one of these labels: ${o.labels.join(', ')}. Answer with the label only.`;
    const res = await this.client.post<ChatResponse>('/chat/completions', {
      model: this.o.model,
      messages: [
        { role: 'system', content: instruction },
        { role: 'user', content: text },
      ],
      max_tokens: Math.max(...o.labels.map((l) => l.length)) + 2,
      temperature: 0,
      logprobs: true,
      top_logprobs: o.topLogprobs ?? 10,
    });
    const c = res.choices?.[0];
    const answer = c?.message.content ?? '';
    const norm = (s: string) => s.trim().toLowerCase();
    const mass = Object.fromEntries(o.labels.map((l) => [l, 0]));
    const first = c?.logprobs?.content?.[0]?.top_logprobs ?? [];
    for (const cand of first) {
      const piece = norm(cand.token);
      if (!piece) continue;
      const hits = o.labels.filter((l) => norm(l).startsWith(piece));
      // A first token shared by several labels: the written answer picks among them, else split evenly.
      const chosen = hits.length > 1 ? hits.filter((l) => norm(answer).startsWith(norm(l))) : hits;
      const to = chosen.length ? chosen : hits;
      for (const l of to) mass[l]! += Math.exp(cand.logprob) / to.length;
    }
    let total = Object.values(mass).reduce((s, v) => s + v, 0);
    if (total === 0) {
      const written =
        o.labels.find((l) => norm(answer).startsWith(norm(l))) ?? o.labels.find((l) => norm(answer).includes(norm(l)));
      if (!written)
        throw new TeacherError(
          `classify: the answer ${JSON.stringify(answer.slice(0, 80))} names none of the labels ${o.labels.join(', ')}`,
        );
      mass[written] = 1;
      total = 1;
    }
    const probs = Object.fromEntries(Object.entries(mass).map(([l, v]) => [l, v / total]));
    const label = Object.entries(probs).sort((a, b) => b[1] - a[1])[0]![0];
    return { label, probs, text: answer };
  }
}
