// Benchmark: `retort serve` under load, continuous batching against batching off (one request at a
// time, the path before batching), in the same run. Two servers run in this process on the same
// model; a child process (this file with --load) sends requests from N concurrent clients over
// loopback and reports completion tokens/s, requests/s and latency percentiles. Levels and modes
// are interleaved for --rounds rounds and the medians reported, since this machine drifts.
//   generate  32 new tokens (temperature 0.8, a seed per request), a 12-token prompt
//   score     echo + logprobs 5 + max_tokens 1: what a distillation teacher asks (HttpTeacher.score)
// The model is the demo's student shape (GPT-2, vocab 1024, d 64, 2 layers, 2 heads, 64 positions)
// with random weights, unless --model names a folder. --soak N then sends N requests at 32 clients
// to the batching server and reports its RSS before and after.
//   npx tsx bench/serve.ts
//   npx tsx bench/serve.ts --rounds 3 --requests 400 --seconds 8 --soak 10000
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gpt2 } from '../src/models/gpt2/model.ts';
import { saveHfModel } from '../src/models/index.ts';
import { ParamStore } from '../src/runtime/index.ts';
import { loadBackend, type ServeBackend } from '../src/serve/backend.ts';
import { startServer, type RunningServer } from '../src/serve/server.ts';
import { median } from './stats.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    requests: { type: 'string', default: '400' },
    seconds: { type: 'string', default: '8' },
    levels: { type: 'string', default: '1,8,32' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    tokens: { type: 'string', default: '32' },
    workloads: { type: 'string', default: 'generate,score' },
    soak: { type: 'string', default: '0' },
    modes: { type: 'string', default: 'batching,off' },
    // Child mode.
    load: { type: 'string' },
    concurrency: { type: 'string' },
    workload: { type: 'string' },
    name: { type: 'string' },
    vocab: { type: 'string' },
  },
});

interface LoadResult {
  workload: string;
  concurrency: number;
  sent: number;
  ok: number;
  statuses: Record<string, number>;
  seconds: number;
  rps: number;
  tokensPerSecond: number;
  p50_ms: number;
  p99_ms: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
};

/**
 * One POST over a kept-alive connection. node:http, not fetch: undici's fetch costs the client
 * process about twice the CPU per request, and the client shares the machine with the server.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
function post(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Child: N clients in a loop until the request count or the time limit is reached. */
async function generateLoad(): Promise<void> {
  const url = a.load!,
    c = Number(a.concurrency),
    total = Number(a.requests),
    limitMs = Number(a.seconds) * 1000,
    V = Number(a.vocab);
  const lat: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0,
    ok = 0,
    seed = 1,
    tokens = 0;
  const t0 = performance.now();
  const client = async () => {
    while (sent < total && performance.now() - t0 < limitMs) {
      sent++;
      const s = seed++;
      const prompt = Array.from({ length: 12 }, (_, i) => (s * 31 + i * 7) % Math.min(V, 256));
      const body =
        a.workload === 'score'
          ? {
              model: a.name,
              prompt,
              max_tokens: 1,
              echo: true,
              logprobs: 5,
              temperature: 0,
              return_tokens_as_token_ids: true,
            }
          : { model: a.name, prompt, max_tokens: Number(a.tokens), temperature: 0.8, seed: s };
      const r0 = performance.now();
      try {
        const res = await post(`${url}/v1/completions`, JSON.stringify(body));
        const json = JSON.parse(res.body) as { usage?: { completion_tokens: number } };
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status === 200) {
          ok++;
          tokens += json.usage?.completion_tokens ?? 0;
          lat.push(performance.now() - r0);
        }
      } catch {
        statuses.error = (statuses.error ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: c }, client));
  const seconds = (performance.now() - t0) / 1000;
  const r: LoadResult = {
    workload: a.workload!,
    concurrency: c,
    sent,
    ok,
    statuses,
    seconds,
    rps: ok / seconds,
    tokensPerSecond: tokens / seconds,
    p50_ms: pct(lat, 0.5),
    p99_ms: pct(lat, 0.99),
  };
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function runChild(
  url: string,
  name: string,
  vocab: number,
  workload: string,
  concurrency: number,
  requests = a.requests!,
  seconds = a.seconds!,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const args = [
      '--import',
      'tsx',
      join(import.meta.dirname, 'serve.ts'),
      '--load',
      url,
      '--name',
      name,
      '--vocab',
      String(vocab),
      '--workload',
      workload,
      '--concurrency',
      String(concurrency),
      '--requests',
      requests,
      '--seconds',
      seconds,
      '--tokens',
      a.tokens!,
    ];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult)
        : reject(new Error(`load generator exited ${code}`)),
    );
  });
}

const rssMb = () => process.memoryUsage().rss / 2 ** 20;

/** The demo student's shape (src/cli/demo/settings.ts, lm full) with seeded random weights. */
function demoStudent(dir: string): string {
  const model = new Gpt2({
    vocabSize: 1024,
    maxPositions: 64,
    dModel: 64,
    nLayers: 2,
    nHeads: 2,
    tieWordEmbeddings: false,
    eosTokenId: 1023,
  } as never);
  saveHfModel(dir, model, ParamStore.init(model.params.values(), 7));
  return dir;
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'retort-bench-serve-'));
  const path = a.model ?? demoStudent(join(tmp, 'student'));
  const threads = Number(a.threads);
  const servers: Record<
    'batching' | 'off',
    { server: RunningServer; name: string; vocab: number; backend: ServeBackend }
  > = {} as never;
  for (const mode of ['batching', 'off'] as const) {
    const backend = await loadBackend(path, { threads, batchRows: mode === 'batching' ? 32 : 0 });
    servers[mode] = {
      server: await startServer({ backend, concurrency: mode === 'batching' ? 32 : 1, queue: 1024 }),
      name: backend.name,
      vocab: backend.vocabSize,
      backend,
    };
  }
  const levels = a.levels!.split(',').map(Number);
  const workloads = a.workloads!.split(',');
  const rounds = Number(a.rounds);
  const modes = a.modes!.split(',');
  console.log(
    `retort serve benchmark: ${a.model ?? "the demo student's shape (random weights)"}, ${threads} onnxruntime threads; continuous batching (32 rows) against batching off (one request at a time)`,
  );
  console.log(
    `each level: at most ${a.requests} requests or ${a.seconds} s, ${rounds} rounds interleaved; load from a child process over loopback\n`,
  );
  // Warm-up: compile the programs each server uses at each batch size.
  for (const mode of ['batching', 'off'] as const)
    for (const w of workloads)
      for (const c of levels)
        if (a.modes!.includes(mode))
          await runChild(servers[mode].server.url, servers[mode].name, servers[mode].vocab, w, c, '64', '3');
  const results = new Map<string, LoadResult[]>();
  /** Rows per decode run of the batching server, per level: how full its batches were. */
  const fill = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const w of workloads) {
      for (const c of levels) {
        for (const mode of ((r % 2 ? ['off', 'batching'] : ['batching', 'off']) as ('batching' | 'off')[]).filter((m) =>
          modes.includes(m),
        )) {
          const s = servers[mode];
          const key = `${w}|${c}|${mode}`;
          const stats0 = { ...(s.backend.batcher?.stats ?? { steps: 0, rows: 0 }) };
          results.set(key, [...(results.get(key) ?? []), await runChild(s.server.url, s.name, s.vocab, w, c)]);
          const stats = s.backend.batcher?.stats;
          if (stats && stats.steps > stats0.steps)
            fill.set(key, [...(fill.get(key) ?? []), (stats.rows - stats0.rows) / (stats.steps - stats0.steps)]);
        }
      }
    }
  }
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const med = (rs: LoadResult[], k: keyof LoadResult) => median(rs.map((x) => x[k] as number));
  console.log(
    'workload  clients  mode       tokens/s    req/s   p50 ms   p99 ms   429s   tokens/s ratio (median of rounds)',
  );
  for (const w of workloads) {
    for (const c of levels) {
      const on = results.get(`${w}|${c}|batching`) ?? [],
        off = results.get(`${w}|${c}|off`) ?? [];
      const ratios = off.length
        ? on.map((x, i) => (w === 'score' ? x.rps / off[i]!.rps : x.tokensPerSecond / off[i]!.tokensPerSecond))
        : [NaN];
      for (const [mode, rs] of (
        [
          ['batching', on],
          ['off', off],
        ] as const
      ).filter(([, rs]) => rs.length > 0)) {
        const refused = rs.reduce((s, x) => s + (x.statuses['429'] ?? 0), 0);
        console.log(
          `${w.padEnd(9)} ${String(c).padStart(7)}  ${mode.padEnd(9)} ${f(med(rs, 'tokensPerSecond')).padStart(9)} ${f(med(rs, 'rps')).padStart(8)} ${f(med(rs, 'p50_ms')).padStart(8)} ${f(med(rs, 'p99_ms')).padStart(8)} ${String(refused).padStart(6)}   ${mode === 'batching' ? `${f(median(ratios), 2)}× (${ratios.map((x) => f(x, 2)).join(', ')}); ${f(median(fill.get(`${w}|${c}|batching`) ?? [NaN]))} rows per decode run` : ''}`,
        );
      }
    }
  }
  const soak = Number(a.soak);
  if (soak > 0) {
    const s = servers.batching;
    const before = rssMb();
    const r = await runChild(s.server.url, s.name, s.vocab, 'generate', 32, String(soak), '100000');
    console.log(
      `\nsoak: ${r.ok} of ${r.sent} requests served at 32 clients in ${f(r.seconds)} s (${f(r.tokensPerSecond)} tokens/s); server RSS ${f(before)} MB before, ${f(rssMb())} MB after`,
    );
  }
  for (const s of Object.values(servers)) await s.server.close();
  rmSync(tmp, { recursive: true, force: true });
}

await (a.load ? generateLoad() : main());
