// Benchmark: `retort serve` under load from a second process on loopback. The server runs in this
// process (startServer); a child process (this file with --load) sends requests from N concurrent
// clients and reports requests/s and latency percentiles. Two workloads per concurrency level:
//   score     echo + logprobs 5 + max_tokens 1: what a distillation teacher is asked (HttpTeacher.score)
//   generate  16 new tokens, temperature 0.8
// Each level is bounded by a request count and a time limit. The server's RSS is read before and
// after every level to show memory stays bounded under load.
//   npx tsx bench/serve.ts                                   (fixtures/hf/tiny-gpt2, Retort backend)
//   npx tsx bench/serve.ts --model fixtures/onnx/tiny-gpt2.onnx --requests 300 --seconds 10
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBackend } from '../src/serve/backend.ts';
import { startServer } from '../src/serve/server.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: join(import.meta.dirname, '../fixtures/hf/tiny-gpt2') },
    requests: { type: 'string', default: '200' }, seconds: { type: 'string', default: '10' }, levels: { type: 'string', default: '1,8,32' },
    'server-concurrency': { type: 'string', default: '2' }, threads: { type: 'string', default: '2' },
    // Child mode.
    load: { type: 'string' }, concurrency: { type: 'string' }, workload: { type: 'string' }, name: { type: 'string' }, vocab: { type: 'string' },
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
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
};

/** Child: N clients in a loop until the request count or the time limit is reached. */
async function generateLoad(): Promise<void> {
  const url = a.load!, c = Number(a.concurrency), total = Number(a.requests), limitMs = Number(a.seconds) * 1000, V = Number(a.vocab);
  const lat: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0, ok = 0, seed = 1;
  const t0 = performance.now();
  const client = async () => {
    while (sent < total && performance.now() - t0 < limitMs) {
      sent++;
      const s = seed++;
      const prompt = Array.from({ length: 12 }, (_, i) => (s * 31 + i * 7) % Math.min(V, 256));
      const body = a.workload === 'score'
        ? { model: a.name, prompt, max_tokens: 1, echo: true, logprobs: 5, temperature: 0, return_tokens_as_token_ids: true }
        : { model: a.name, prompt, max_tokens: 16, temperature: 0.8, seed: s };
      const r0 = performance.now();
      try {
        const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.ok) {
          ok++;
          lat.push(performance.now() - r0);
        }
      } catch {
        statuses.error = (statuses.error ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: c }, client));
  const seconds = (performance.now() - t0) / 1000;
  const r: LoadResult = { workload: a.workload!, concurrency: c, sent, ok, statuses, seconds, rps: ok / seconds, p50_ms: pct(lat, 0.5), p95_ms: pct(lat, 0.95), max_ms: Math.max(...lat) };
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function runChild(url: string, name: string, vocab: number, workload: string, concurrency: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', join(import.meta.dirname, 'serve.ts'), '--load', url, '--name', name, '--vocab', String(vocab), '--workload', workload,
      '--concurrency', String(concurrency), '--requests', a.requests!, '--seconds', a.seconds!];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult) : reject(new Error(`load generator exited ${code}`))));
  });
}

const rssMb = () => process.memoryUsage().rss / 2 ** 20;

async function main(): Promise<void> {
  const backend = await loadBackend(a.model!, { threads: Number(a.threads) });
  const server = await startServer({ backend, concurrency: Number(a['server-concurrency']), queue: 64 });
  const levels = a.levels!.split(',').map(Number);
  console.log(`retort serve benchmark: ${backend.kind} model '${backend.name}' (vocab ${backend.vocabSize}), server concurrency ${a['server-concurrency']}, ${a.threads} onnxruntime threads`);
  console.log(`each level: at most ${a.requests} requests or ${a.seconds} s; load from a child process over loopback\n`);
  // Warm-up: compile the programs both workloads use, so RSS before the first level is the steady base.
  for (const w of ['score', 'generate']) await runChild(server.url, backend.name, backend.vocabSize, w, 2).catch(() => undefined);
  const rssStart = rssMb();
  const rows: (LoadResult & { rss_before: number; rss_after: number })[] = [];
  for (const w of ['score', 'generate']) {
    for (const c of levels) {
      const before = rssMb();
      const r = await runChild(server.url, backend.name, backend.vocabSize, w, c);
      rows.push({ ...r, rss_before: before, rss_after: rssMb() });
    }
  }
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log('workload  conc   sent     ok  429   req/s   p50 ms   p95 ms   max ms   RSS before → after (MB)');
  for (const r of rows) {
    console.log(`${r.workload.padEnd(9)} ${String(r.concurrency).padStart(4)} ${String(r.sent).padStart(6)} ${String(r.ok).padStart(6)} ${String(r.statuses['429'] ?? 0).padStart(4)} ${f(r.rps).padStart(7)} ${f(r.p50_ms).padStart(8)} ${f(r.p95_ms).padStart(8)} ${f(r.max_ms).padStart(8)}   ${f(r.rss_before)} → ${f(r.rss_after)}`);
  }
  console.log(`\nserver RSS: ${f(rssStart)} MB after warm-up, ${f(rssMb())} MB at the end; ${server.stats().generatedTokens} tokens generated`);
  await server.close();
}

await (a.load ? generateLoad() : main());
