// The one way Retort talks to an OpenAI-compatible API (vLLM, OpenAI, `retort serve`): POST JSON
// with Node's fetch under a concurrency limit; retries with exponential backoff and full jitter on
// 408/409/429/5xx, timeouts and dropped connections (Retry-After respected); a request/token budget
// that refuses new requests once spent (BudgetExhaustedError) while in-flight ones finish; and the
// on-disk RequestCache in front of all of it, so an answer already paid for is never asked again.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../data/canonical-json.ts';
import { RequestCache } from './cache.ts';
import { redact, resolveApiKey, type KeySource } from './credentials.ts';

export interface Budget {
  /** Most requests sent over the network (cache hits are free). */
  maxRequests?: number;
  /** Most tokens billed (usage.total_tokens; estimated when a response has no usage). */
  maxTokens?: number;
}

export interface HttpClientOptions extends KeySource {
  /** The API root, e.g. http://127.0.0.1:8000/v1 or https://api.openai.com/v1. */
  baseUrl: string;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Retries after the first try (default 6). */
  maxRetries?: number;
  /** Backoff: the n-th retry waits uniform(0, min(retryMaxMs, retryBaseMs·2^n)) (defaults 500 ms, 30 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Longest Retry-After honoured (default 120 s); longer ones wait this long. */
  maxRetryAfterMs?: number;
  /** One try's deadline (default 120 s). */
  timeoutMs?: number;
  budget?: Budget;
  /** Folder of the response cache; none when absent. */
  cacheDir?: string;
  /** Part of every cache key: answers of one teacher never serve another (HttpTeacher passes its fingerprint). */
  namespace?: string;
  /** Called on each retry and budget stop (no key ever appears in it). */
  onEvent?: (e: ClientEvent) => void;
}

export type ClientEvent =
  | { kind: 'retry'; path: string; attempt: number; waitMs: number; reason: string }
  | { kind: 'budget'; reason: string };

export interface ClientStats {
  /** Requests answered over the network (not counting retries). */
  network: number;
  cacheHits: number;
  retries: number;
  /** Tokens billed so far (usage.total_tokens, or estimates). */
  tokens: number;
}

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** The budget is spent: no new request is sent. Work already answered (and cached) is kept. */
export class BudgetExhaustedError extends Error {
  override name = 'BudgetExhaustedError';
}

const RETRY_STATUS = new Set([408, 409, 425, 429]);

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const t = Date.parse(header);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/** Rough token count of a request when the response reports no usage: ids count as tokens, text as 4 characters a token. */
function estimateTokens(body: Record<string, unknown>): number {
  const p = body.prompt ?? body.messages;
  const count = (x: unknown): number =>
    typeof x === 'number'
      ? 1
      : typeof x === 'string'
        ? Math.ceil(x.length / 4)
        : Array.isArray(x)
          ? x.reduce((s: number, y) => s + count(y), 0)
          : x && typeof x === 'object'
            ? count((x as { content?: unknown }).content)
            : 0;
  return count(p) + Number(body.max_tokens ?? body.max_completion_tokens ?? 16);
}

class Semaphore {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async use<T>(f: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await f();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export class HttpClient {
  readonly #key: string | undefined;
  private readonly cache?: RequestCache;
  private readonly sem: Semaphore;
  private readonly pending = new Map<string, Promise<unknown>>();
  private spentRequests = 0;
  private spentTokens = 0;
  readonly stats: ClientStats = { network: 0, cacheHits: 0, retries: 0, tokens: 0 };

  /** The options, less where the key came from (env, credentialsFile): safe to log. */
  readonly o: Omit<HttpClientOptions, 'env' | 'credentialsFile'>;

  constructor(options: HttpClientOptions) {
    this.#key = resolveApiKey(options);
    const { env: _env, credentialsFile: _file, ...o } = options;
    this.o = o;
    this.sem = new Semaphore(o.concurrency ?? 4);
    if (o.cacheDir) this.cache = RequestCache.open(o.cacheDir);
  }

  /** The base URL with any credentials in it removed (for messages). */
  get endpoint(): string {
    return this.o.baseUrl.replace(/\/\/[^@/]*@/, '//');
  }

  /** Responses cached so far. */
  get cached(): number {
    return this.cache?.count ?? 0;
  }

  /** Cache key of a request: sha256 over the namespace, path and canonical body. */
  keyOf(path: string, body: object): string {
    return createHash('sha256')
      .update(canonicalJson({ ns: this.o.namespace ?? '', path, body }))
      .digest('hex');
  }

  /** POSTs `body` to `path` (e.g. '/completions'), from the cache when it holds the answer. */
  async post<T = unknown>(path: string, body: Record<string, unknown>): Promise<T> {
    const key = this.keyOf(path, body);
    if (this.cache?.has(key)) {
      this.stats.cacheHits++;
      return this.cache.get(key) as T;
    }
    let p = this.pending.get(key);
    if (!p) {
      p = this.sem
        .use(() => this.send(path, body))
        .then((res) => {
          this.cache?.put(key, res);
          return res;
        });
      this.pending.set(key, p);
      void p.catch(() => undefined).finally(() => this.pending.delete(key));
    } else this.stats.cacheHits++;
    return p as Promise<T>;
  }

  close(): void {
    this.cache?.close();
  }

  private reserve(body: Record<string, unknown>): number {
    const b = this.o.budget ?? {};
    const est = estimateTokens(body);
    const stop = (reason: string) => {
      this.o.onEvent?.({ kind: 'budget', reason });
      throw new BudgetExhaustedError(
        `budget exhausted: ${reason}; answers so far are cached, raise the budget and run again to continue`,
      );
    };
    if (b.maxRequests !== undefined && this.spentRequests >= b.maxRequests)
      stop(`${this.spentRequests} of ${b.maxRequests} requests used`);
    if (b.maxTokens !== undefined && this.spentTokens + est > b.maxTokens)
      stop(`${this.spentTokens} of ${b.maxTokens} tokens used and the next request needs about ${est}`);
    this.spentRequests++;
    this.spentTokens += est;
    return est;
  }

  private async send(path: string, body: Record<string, unknown>): Promise<unknown> {
    const estimate = this.reserve(body);
    const url = `${this.o.baseUrl.replace(/\/+$/, '')}${path}`;
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (this.#key) headers.Authorization = `Bearer ${this.#key}`;
    const text = JSON.stringify(body);
    const maxRetries = this.o.maxRetries ?? 6;
    for (let attempt = 0; ; attempt++) {
      let failure: HttpError;
      let wait: number | undefined;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers,
          body: text,
          signal: AbortSignal.timeout(this.o.timeoutMs ?? 120_000),
        });
        const raw = await res.text();
        if (res.ok) {
          let json: unknown;
          try {
            json = JSON.parse(raw);
          } catch {
            throw new HttpError(
              `${this.endpoint}${path}: the answer is not JSON: ${this.clip(raw)}`,
              res.status,
              false,
            );
          }
          const used = Number((json as { usage?: { total_tokens?: unknown } })?.usage?.total_tokens);
          if (Number.isFinite(used)) this.spentTokens += used - estimate;
          this.stats.tokens = this.spentTokens;
          this.stats.network++;
          return json;
        }
        const retryable = RETRY_STATUS.has(res.status) || res.status >= 500;
        failure = new HttpError(
          `${this.endpoint}${path}: HTTP ${res.status}: ${this.clip(raw)}`,
          res.status,
          retryable,
        );
        wait = retryAfterMs(res.headers.get('retry-after'));
      } catch (err) {
        if (err instanceof HttpError) throw err;
        const e = err as Error & { cause?: { code?: string } };
        const why =
          e.name === 'TimeoutError'
            ? `no answer within ${this.o.timeoutMs ?? 120_000} ms`
            : `${e.message}${e.cause?.code ? ` (${e.cause.code})` : ''}`;
        failure = new HttpError(`${this.endpoint}${path}: ${redact(why, this.#key)}`, undefined, true);
      }
      if (!failure.retryable || attempt >= maxRetries) {
        this.spentTokens -= estimate; // nothing was billed for a request that never got an answer
        if (failure.retryable) failure.message += ` (gave up after ${attempt + 1} tries)`;
        throw failure;
      }
      const cap = Math.min(this.o.retryMaxMs ?? 30_000, (this.o.retryBaseMs ?? 500) * 2 ** attempt);
      const ms = wait !== undefined ? Math.min(wait, this.o.maxRetryAfterMs ?? 120_000) : Math.random() * cap;
      this.stats.retries++;
      this.o.onEvent?.({ kind: 'retry', path, attempt: attempt + 1, waitMs: Math.round(ms), reason: failure.message });
      await new Promise((r) => setTimeout(r, ms));
    }
  }

  /** A response body for an error message: redacted and cut to 500 characters. */
  private clip(raw: string): string {
    const s = redact(raw, this.#key);
    return s.length > 500 ? `${s.slice(0, 500)}…` : s;
  }
}
