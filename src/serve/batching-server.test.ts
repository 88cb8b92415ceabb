// retort serve with continuous batching, over HTTP: 40 concurrent clients are all served with the
// CLI's defaults (32 at once, 256 queued), each gets the tokens it gets alone, a malformed request
// among them gets its 400 without disturbing the others, and a streaming client that hangs up
// frees its row. SIGTERM to a batching `retort serve` finishes the streams in flight.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadBackend, type ServeBackend } from './backend.ts';
import { startServer, type RunningServer } from './server.ts';
import { spawnServer } from './testing/spawn.ts';

const TINY = join(import.meta.dirname, '../../fixtures/hf/tiny-gpt2');
let backend: ServeBackend;
let server: RunningServer;

before(async () => {
  backend = await loadBackend(TINY, { batchRows: 32, threads: 1 });
  server = await startServer({ backend, concurrency: 32, queue: 256 });
});
after(() => server.close());

const prompt = (i: number) => [(i * 37) % 290, (i * 11 + 5) % 290, 7, (i * 3) % 290];
const complete = async (body: Record<string, unknown>) => {
  const res = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: backend.name, temperature: 0, ...body }),
  });
  return {
    status: res.status,
    json: (await res.json()) as {
      choices: { text: string; logprobs: { tokens: string[] } | null }[];
      error?: { param?: string };
    },
  };
};
const tokens = (j: { choices: { logprobs: { tokens: string[] } | null }[] }) => j.choices[0]!.logprobs!.tokens;

test('40 concurrent clients: all served, each with its tokens alone; a malformed request among them gets 400', async () => {
  const alone = [];
  for (let i = 0; i < 40; i++)
    alone.push(
      tokens(
        (await complete({ prompt: prompt(i), max_tokens: 12 + (i % 5), logprobs: 0, return_tokens_as_token_ids: true }))
          .json,
      ),
    );
  const steps0 = backend.batcher!.stats.steps;
  const [bad, ...all] = await Promise.all([
    complete({ prompt: prompt(0), max_tokens: 'many' }),
    ...Array.from({ length: 40 }, (_, i) =>
      complete({ prompt: prompt(i), max_tokens: 12 + (i % 5), logprobs: 0, return_tokens_as_token_ids: true }),
    ),
  ]);
  assert.equal(bad!.status, 400);
  assert.equal(bad!.json.error!.param, 'max_tokens');
  assert.deepEqual(
    all.map((r) => r.status),
    Array(40).fill(200),
  );
  assert.deepEqual(
    all.map((r) => tokens(r.json)),
    alone,
  );
  const steps = backend.batcher!.stats.steps - steps0;
  assert.ok(steps < (40 * 12) / 4, `requests were decoded together (${steps} model runs for ${40 * 14} tokens)`);
});

test('a streaming client that hangs up frees its row at the next step', async () => {
  const abort = new AbortController();
  const res = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    signal: abort.signal,
    body: JSON.stringify({ model: backend.name, prompt: prompt(1), max_tokens: 50, stream: true }),
  });
  const reader = res.body!.getReader();
  await reader.read();
  assert.equal(backend.batcher!.load.active, 1);
  abort.abort();
  for (let i = 0; i < 100 && backend.batcher!.load.active > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(backend.batcher!.load, { active: 0, waiting: 0 });
  assert.equal((await complete({ prompt: prompt(2), max_tokens: 3 })).status, 200, 'the server goes on serving');
});

test('SIGTERM to a batching retort serve: the streams in flight complete, then it exits 0', async () => {
  const child = await spawnServer([TINY, '--quiet', '--threads', '1']);
  try {
    assert.match(child.output(), /continuous batching, up to 32 requests at once, 256 more queued/);
    const body = (i: number) =>
      JSON.stringify({ model: 'tiny-gpt2', prompt: prompt(i), max_tokens: 30, temperature: 0, stream: true });
    const streams = await Promise.all(
      [0, 1, 2].map((i) => fetch(`${child.url}/v1/completions`, { method: 'POST', body: body(i) })),
    );
    const readers = streams.map((s) => s.body!.getReader());
    await Promise.all(readers.map((r) => r.read()));
    child.proc.kill('SIGTERM');
    const texts = await Promise.all(
      readers.map(async (r) => {
        let text = '';
        for (;;) {
          const { value, done } = await r.read();
          if (done) return text;
          text += new TextDecoder().decode(value);
        }
      }),
    );
    for (const t of texts) assert.match(t, /data: \[DONE\]\n\n$/);
    assert.equal(await child.exited, 0, child.output());
  } finally {
    child.proc.kill('SIGKILL');
  }
});

test("scoring as vLLM does it: echo with max_tokens 0 and logprobs k, or prompt_logprobs k, give the prompt's top-k of the in-process teacher", async () => {
  const ids = prompt(3).concat([11, 12, 13]);
  const direct = await backend.teacher.score({
    ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) } as never,
    topK: 3,
  });
  const want = (j: number) => Array.from({ length: 3 }, (_, r) => Number(direct.topk!.ids.data[j * 3 + r]));
  const wantLp = (j: number) => Array.from({ length: 3 }, (_, r) => Number(direct.topk!.logprobs.data[j * 3 + r]));

  const echo = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({
      model: backend.name,
      prompt: ids,
      echo: true,
      max_tokens: 0,
      logprobs: 3,
      return_tokens_as_token_ids: true,
    }),
  }).then((r) => r.json());
  const lp = echo.choices[0].logprobs;
  assert.equal(lp.tokens.length, ids.length, 'the prompt tokens, nothing generated');
  assert.equal(lp.top_logprobs[0], null);
  for (let j = 1; j < ids.length; j++) {
    const top = Object.entries(lp.top_logprobs[j] as Record<string, number>);
    assert.deepEqual(
      top.map(([t]) => Number(t.replace('token_id:', ''))),
      want(j - 1),
      `position ${j}`,
    );
    top.forEach(([, v], r) => assert.ok(Math.abs(v - wantLp(j - 1)[r]!) < 1e-4));
  }

  const vllm = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: backend.name, prompt: ids, max_tokens: 1, temperature: 0, prompt_logprobs: 3 }),
  }).then((r) => r.json());
  const pl = vllm.choices[0].prompt_logprobs as (Record<
    string,
    { logprob: number; rank: number; decoded_token: string }
  > | null)[];
  assert.equal(pl.length, ids.length);
  assert.equal(pl[0], null);
  for (let j = 1; j < ids.length; j++) {
    const entry = pl[j]!;
    assert.ok(String(ids[j]) in entry, 'the prompt token itself is listed');
    for (const [r, id] of want(j - 1).entries()) assert.equal(entry[id]!.rank, r + 1);
    const own = entry[ids[j]!]!;
    const inTop = want(j - 1).indexOf(ids[j]!);
    if (inTop >= 0) assert.equal(own.rank, inTop + 1);
    else assert.ok(own.rank > 3 && Number.isInteger(own.rank), `a token outside the top 3 ranks past it (${own.rank})`);
  }
});
