// A real HTTP proxy on 127.0.0.1 for tests: forwards to a real server (retort serve) but can be
// scripted to fail the next requests first (a status with Retry-After, a hang past the client's
// timeout, a dropped connection), and records what it saw.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyAction =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  /** Answers with the request's own Authorization header in the body (a server that leaks it). */
  | { kind: 'echo-auth'; status: number }
  | { kind: 'hang'; ms: number }
  | { kind: 'reset' };

export interface TestProxy {
  url: string;
  /** Actions for the next requests, in order; requests beyond them are forwarded. */
  script: ProxyAction[];
  /** Every request seen: path, Authorization header, and whether it was forwarded. */
  seen: { path: string; auth?: string; forwarded: boolean }[];
  close(): Promise<void>;
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startProxy(target: string): Promise<TestProxy> {
  const proxy: TestProxy = { url: '', script: [], seen: [], close: async () => undefined };
  const server: Server = createServer(async (req, res) => {
    const body = await readAll(req);
    const action = proxy.script.shift();
    const auth = req.headers.authorization;
    proxy.seen.push({ path: req.url ?? '', auth, forwarded: !action });
    if (action?.kind === 'reset') return req.socket.destroy();
    if (action?.kind === 'hang') return setTimeout(() => res.destroy(), action.ms);
    if (action?.kind === 'status' || action?.kind === 'echo-auth') {
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (action.kind === 'status' && action.retryAfter !== undefined) headers['Retry-After'] = action.retryAfter;
      res.writeHead(action.status, headers);
      const text =
        action.kind === 'echo-auth'
          ? JSON.stringify({ error: { message: `bad key: ${auth}` } })
          : (action.body ?? JSON.stringify({ error: { message: `scripted ${action.status}` } }));
      return res.end(text);
    }
    const upstream = await fetch(target + (req.url ?? ''), {
      method: req.method,
      headers: { 'Content-Type': 'application/json' },
      body: req.method === 'POST' ? body.toString('utf8') : undefined,
    });
    res.writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return proxy;
}
