// `retort serve`: an OpenAI-compatible HTTP server (node:http) over a Retort model or an ONNX file.
//   GET  /v1/models, /v1/models/{id}, /health
//   POST /v1/completions        prompt scoring with echo + logprobs, sampling, streaming (SSE)
//   POST /v1/chat/completions   chat template, logprobs / top_logprobs, streaming
// Binds 127.0.0.1 unless told otherwise. Every request body is size-bounded (413), JSON-parsed and
// validated (400 naming the field), the model name checked (404); at most `concurrency` requests
// run and `queue` wait (429 beyond). close() stops accepting, lets in-flight requests finish until
// a deadline, then cuts what is left.
//   const server = await startServer({ backend: await loadBackend('fixtures/onnx/tiny-gpt2.onnx') });
//   ... fetch(`${server.url}/v1/completions`, ...) ...
//   await server.close();
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServeBackend } from './backend.ts';
import { AbortedError } from './decode.ts';
import { ApiError, fromZod } from './errors.ts';
import { chatCompletions, completions, type HandlerContext } from './handlers.ts';
import { BoundedQueue, QueueFullError } from './queue.ts';
import { chatSchema, completionSchema, type RequestLimits } from './schemas.ts';

export interface ServeOptions {
  backend: ServeBackend;
  /** Default 127.0.0.1 (loopback only); '0.0.0.0' exposes the server to the network. */
  host?: string;
  /** Default 0: any free port (read it from the returned url). */
  port?: number;
  /** Largest request body in bytes (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Longest prompt in tokens (default the model's context, at most 8192). */
  maxPromptTokens?: number;
  /** Largest max_tokens (default 1024), logprobs (20), n (8), prompts per request (64). */
  limits?: Partial<RequestLimits>;
  /** Requests run at once (default 1: one model run at a time uses all onnxruntime threads). */
  concurrency?: number;
  /** Requests that may wait for a slot (default 16); more get 429. */
  queue?: number;
  /** How long close() lets in-flight requests finish (default 10 s). */
  shutdownGraceMs?: number;
  /** One line per request (method, path, status, ms); default silent. */
  log?: (line: string) => void;
}

export interface ServerStats {
  requests: number;
  byStatus: Record<number, number>;
  inFlight: number;
  queued: number;
  generatedTokens: number;
}

export interface RunningServer {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  readonly backend: ServeBackend;
  stats(): ServerStats;
  /** Stops accepting, waits for in-flight requests (up to graceMs, default the server's), then closes every connection. */
  close(o?: { graceMs?: number }): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    // A stream already under way: the error goes out as its last event (vLLM does the same).
    if (!res.destroyed && String(res.getHeader('Content-Type')).startsWith('text/event-stream'))
      res.write(`data: ${JSON.stringify(body)}\n\n`);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Reads the body up to `limit` bytes; a larger one is a 413 (the rest is not read; the connection closes after the answer). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit)
    return Promise.reject(
      new ApiError(
        413,
        `request body of ${declared} bytes exceeds the limit of ${limit} bytes`,
        'invalid_request_error',
        null,
        'request_too_large',
      ),
    );
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(
          new ApiError(
            413,
            `request body exceeds the limit of ${limit} bytes`,
            'invalid_request_error',
            null,
            'request_too_large',
          ),
        );
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ApiError(
      400,
      `the request body is not valid JSON (${(err as Error).message})`,
      'invalid_request_error',
      null,
      'invalid_json',
    );
  }
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const { backend } = o;
  const limits: RequestLimits & { maxPromptTokens: number } = {
    maxTokens: o.limits?.maxTokens ?? 1024,
    maxLogprobs: o.limits?.maxLogprobs ?? 20,
    maxN: o.limits?.maxN ?? 8,
    maxPrompts: o.limits?.maxPrompts ?? 64,
    maxPromptTokens: o.maxPromptTokens ?? Math.min(backend.maxPositions, 8192),
  };
  const schemas = { completion: completionSchema(limits), chat: chatSchema(limits) };
  const maxBody = o.maxBodyBytes ?? 1 << 20;
  const queue = new BoundedQueue(o.concurrency ?? 1, o.queue ?? 16);
  const graceDefault = o.shutdownGraceMs ?? 10_000;
  const inFlight = new Set<{ done: Promise<void>; abort: AbortController }>();
  const stats = { requests: 0, byStatus: {} as Record<number, number>, generatedTokens: 0 };
  let closing = false;

  const modelObject = () => ({
    id: backend.name,
    object: 'model',
    created: 0,
    owned_by: 'retort',
    max_model_len: Number.isFinite(backend.maxPositions) ? backend.maxPositions : null,
  });

  async function route(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    if (req.method === 'GET') {
      if (path === '/health') return sendJson(res, 200, { status: 'ok' });
      if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [modelObject()] });
      if (path.startsWith('/v1/models/')) {
        const id = decodeURIComponent(path.slice('/v1/models/'.length));
        if (id !== backend.name)
          throw new ApiError(
            404,
            `The model '${id}' does not exist; this server serves '${backend.name}'`,
            'invalid_request_error',
            'model',
            'model_not_found',
          );
        return sendJson(res, 200, modelObject());
      }
    }
    const endpoint = path === '/v1/completions' ? 'completion' : path === '/v1/chat/completions' ? 'chat' : undefined;
    if (!endpoint) {
      const known = ['/health', '/v1/models', '/v1/completions', '/v1/chat/completions'];
      if (known.includes(path))
        throw new ApiError(
          405,
          `${req.method} is not allowed on ${path}`,
          'invalid_request_error',
          null,
          'method_not_allowed',
        );
      throw new ApiError(
        404,
        `no route ${req.method} ${path}; this server has ${known.join(', ')}`,
        'not_found_error',
        null,
        'not_found',
      );
    }
    if (req.method !== 'POST')
      throw new ApiError(
        405,
        `${path} takes POST, not ${req.method}`,
        'invalid_request_error',
        null,
        'method_not_allowed',
      );
    const parsed = schemas[endpoint].safeParse(parseJson(await readBody(req, maxBody)));
    if (!parsed.success) throw fromZod(parsed.error);
    const body = parsed.data;
    if (body.model !== backend.name)
      throw new ApiError(
        404,
        `The model '${body.model}' does not exist; this server serves '${backend.name}'`,
        'invalid_request_error',
        'model',
        'model_not_found',
      );
    const ctx: HandlerContext = { backend, limits, signal, onTokens: (n) => (stats.generatedTokens += n) };
    const result = await queue.run(
      () =>
        endpoint === 'completion' ? completions(ctx, body as never, res) : chatCompletions(ctx, body as never, res),
      signal,
    );
    if (result !== undefined) sendJson(res, 200, result);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    stats.requests++;
    res.on('finish', () => {
      stats.byStatus[res.statusCode] = (stats.byStatus[res.statusCode] ?? 0) + 1;
      o.log?.(`${req.method} ${req.url} ${res.statusCode} ${(performance.now() - t0).toFixed(1)}ms`);
    });
    if (closing) {
      sendJson(
        res,
        503,
        new ApiError(503, 'the server is shutting down; retry against another instance', 'service_unavailable').body(),
        { Connection: 'close', 'Retry-After': '1' },
      );
      return;
    }
    const abort = new AbortController();
    // The client hanging up before the answer is complete cancels its generation.
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const entry = { abort, done: Promise.resolve() };
    entry.done = route(req, res, abort.signal)
      .catch((err: unknown) => {
        if (err instanceof AbortedError || abort.signal.aborted) {
          res.destroy();
          return;
        }
        const api =
          err instanceof ApiError
            ? err
            : err instanceof QueueFullError
              ? new ApiError(429, `the server is busy: ${err.message}`, 'rate_limit_error', null, 'queue_full', {
                  'Retry-After': '1',
                })
              : new ApiError(500, `internal error: ${(err as Error)?.message ?? String(err)}`, 'server_error');
        // A body that was not read whole (413) leaves the connection unusable: close it after the answer.
        const headers = api.status === 413 ? { ...api.headers, Connection: 'close' } : api.headers;
        sendJson(res, api.status, api.body(), headers);
        if (api.status === 413) res.once('finish', () => req.socket.destroySoon());
      })
      .finally(() => inFlight.delete(entry));
    inFlight.add(entry);
  }

  const server = createServer({ requestTimeout: 300_000, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed: Promise<void> | undefined;

  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    backend,
    stats: () => ({ ...stats, byStatus: { ...stats.byStatus }, inFlight: inFlight.size, queued: queue.queued }),
    close(c = {}) {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = c.graceMs ?? graceDefault;
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), grace)));
        const finished = Promise.all([...inFlight].map((e) => e.done)).then(() => 'done' as const);
        if ((await Promise.race([finished, deadline])) === 'late') {
          queue.drain(new Error('server shut down'));
          for (const e of inFlight) e.abort.abort();
        }
        clearTimeout(timer);
        await Promise.race([finished, new Promise((r) => setTimeout(r, 1000))]);
        server.closeAllConnections();
        await stopped;
      })();
      return closed;
    },
  };
}
