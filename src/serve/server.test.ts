// retort serve over real HTTP on 127.0.0.1: bad requests get 4xx JSON errors in OpenAI's shape and
// the server keeps serving; greedy completions and echoed log-probs equal the model run directly;
// streaming gives the same text; the queue answers 429 when full; a client that hangs up frees its slot.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { decoderOnnxModel } from '../export/index.ts';
import { Generator } from '../generate/index.ts';
import { loadHfModel } from '../models/index.ts';
import { encodeModel } from '../onnx/index.ts';
import { hostTensor } from '../runtime/index.ts';
import { loadBackend, onnxBackend, type ServeBackend } from './backend.ts';
import { startServer, type RunningServer } from './server.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures');
let onnx: ServeBackend;
let server: RunningServer;

before(async () => {
  onnx = await loadBackend(join(FIXTURES, 'onnx/tiny-gpt2.onnx'));
  server = await startServer({
    backend: onnx,
    maxBodyBytes: 64 * 1024,
    limits: { maxTokens: 48 },
    concurrency: 2,
    queue: 4,
  });
});
after(() => server.close());

async function post(
  path: string,
  body: unknown,
  url = server.url,
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : text, headers: res.headers };
}

function assertApiError(
  r: { status: number; json: any; headers: Headers },
  status: number,
  param?: string | null,
  code?: string,
): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.type);
  if (param !== undefined) assert.equal(r.json.error.param, param);
  if (code) assert.equal(r.json.error.code, code);
}

test('bad requests get 4xx JSON errors and the server keeps serving', async () => {
  const m = onnx.name;
  assertApiError(await post('/v1/completions', { model: m, prompt: 5 }), 400, 'prompt');
  assertApiError(await post('/v1/completions', { model: m, prompt: 'hi', temperature: 'hot' }), 400, 'temperature');
  assertApiError(await post('/v1/completions', { model: m, prompt: 'hi', max_tokens: -1 }), 400, 'max_tokens');
  assertApiError(await post('/v1/completions', { model: m, prompt: 'hi', max_tokens: 2.5 }), 400, 'max_tokens');
  assertApiError(await post('/v1/completions', { model: m, prompt: 'hi', max_tokens: 49 }), 400, 'max_tokens');
  assertApiError(await post('/v1/completions', { model: m, prompt: 'hi', logprobs: 21 }), 400, 'logprobs');
  assertApiError(await post('/v1/completions', { model: m, prompt: [1, -2] }), 400);
  assertApiError(await post('/v1/completions', { model: m, prompt: [1, 9999] }), 400, 'prompt');
  assertApiError(
    await post('/v1/completions', { model: m, prompt: 'x'.repeat(60), max_tokens: 10 }),
    400,
    'max_tokens',
    'context_length_exceeded',
  );
  assertApiError(
    await post('/v1/completions', { model: m, prompt: 'hi', presence_penalty: 1 }),
    400,
    'presence_penalty',
  );
  assertApiError(await post('/v1/completions', { model: 'gpt-4', prompt: 'hi' }), 404, 'model', 'model_not_found');
  assertApiError(await post('/v1/completions', '{"model": '), 400, null, 'invalid_json');
  assertApiError(
    await post('/v1/completions', { model: m, prompt: 'x'.repeat(100_000) }),
    413,
    null,
    'request_too_large',
  );
  assertApiError(await post('/v1/chat/completions', { model: m, messages: [] }), 400, 'messages');
  assertApiError(
    await post('/v1/chat/completions', { model: m, messages: [{ role: 'robot', content: 'hi' }] }),
    400,
    'messages.0.role',
  );
  assertApiError(
    await post('/v1/chat/completions', { model: m, messages: [{ role: 'user', content: 'hi' }], top_logprobs: 2 }),
    400,
    'top_logprobs',
  );
  const get = await fetch(`${server.url}/v1/completions`);
  assert.equal(get.status, 405);
  const missing = await fetch(`${server.url}/v2/nothing`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as any).error.code, 'not_found');
  // Still serving.
  const ok = await post('/v1/completions', { model: m, prompt: 'The cat', max_tokens: 3, temperature: 0 });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.choices[0].finish_reason, 'length');
  const models = (await (await fetch(`${server.url}/v1/models`)).json()) as any;
  assert.deepEqual(
    models.data.map((x: any) => x.id),
    [m],
  );
  assert.ok(server.stats().byStatus[400]! >= 12);
});

test('greedy completion and echoed log-probs equal the model run directly', async () => {
  const prompt = [84, 104, 101, 32, 99, 97, 116]; // "The cat"
  const r = await post('/v1/completions', {
    model: onnx.name,
    prompt,
    max_tokens: 6,
    temperature: 0,
    echo: true,
    logprobs: 3,
    return_tokens_as_token_ids: true,
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const lp = r.json.choices[0].logprobs;
  assert.equal(lp.tokens.length, prompt.length + 6);
  assert.deepEqual(
    lp.tokens.slice(0, prompt.length),
    prompt.map((i) => `token_id:${i}`),
  );
  assert.equal(lp.token_logprobs[0], null);
  // Reference: the teacher's log-softmax over the whole sequence, greedy step by step.
  const seq = [...prompt];
  for (let step = 0; step < 6; step++) {
    const out = await onnx.teacher.score({ ids: hostTensor('int64', [1, seq.length], seq), logits: true });
    const V = onnx.vocabSize,
      z = out.logits!.data as Float32Array;
    const last = z.subarray((seq.length - 1) * V, seq.length * V);
    let best = 0;
    for (let i = 1; i < V; i++) if (last[i]! > last[best]!) best = i;
    seq.push(best);
  }
  assert.deepEqual(
    lp.tokens.slice(prompt.length),
    seq.slice(prompt.length).map((i) => `token_id:${i}`),
  );
  const full = await onnx.teacher.score({ ids: hostTensor('int64', [1, seq.length], seq), logits: true });
  const V = onnx.vocabSize,
    z = full.logits!.data as Float32Array;
  for (let j = 1; j < seq.length; j++) {
    const row = z.subarray((j - 1) * V, j * V);
    const m = Math.max(...row),
      lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
    assert.ok(Math.abs(lp.token_logprobs[j] - (row[seq[j]!]! - lse)) < 1e-4, `position ${j}`);
    const top = Object.entries(lp.top_logprobs[j] as Record<string, number>);
    assert.equal(top.length, 3);
    assert.ok(top.every(([, v]) => v <= Math.max(...top.map(([, w]) => w))));
  }
  assert.equal(r.json.choices[0].text.slice(0, 7), 'The cat');
  assert.deepEqual(r.json.usage, { prompt_tokens: 7, completion_tokens: 6, total_tokens: 13 });
});

test('streaming sends the same text as one answer, then [DONE]; chat works with the default template', async () => {
  const body = { model: onnx.name, prompt: ['The dog', 'Red, green'], max_tokens: 10, temperature: 0 };
  const whole = await post('/v1/completions', body);
  const res = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  assert.match(res.headers.get('content-type')!, /text\/event-stream/);
  const events = (await res.text())
    .split('\n\n')
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ''));
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const text = ['', ''];
  for (const c of chunks) for (const ch of c.choices) text[ch.index] += ch.text;
  assert.deepEqual(
    text,
    whole.json.choices.map((c: any) => c.text),
  );
  assert.equal(chunks.at(-1).usage.completion_tokens, 20);
  const chat = await post('/v1/chat/completions', {
    model: onnx.name,
    messages: [{ role: 'user', content: 'The cat' }],
    max_tokens: 5,
    temperature: 0,
    logprobs: true,
    top_logprobs: 2,
  });
  assert.equal(chat.status, 200, JSON.stringify(chat.json));
  assert.equal(chat.json.object, 'chat.completion');
  assert.equal(chat.json.choices[0].logprobs.content.length, 5);
  assert.equal(chat.json.choices[0].logprobs.content[0].top_logprobs.length, 2);
  assert.equal(typeof chat.json.choices[0].message.content, 'string');
});

test('a Retort checkpoint folder serves the same greedy tokens as src/generate', async () => {
  const dir = join(FIXTURES, 'hf/tiny-gpt2');
  const backend = await loadBackend(dir);
  assert.equal(backend.kind, 'retort');
  const s = await startServer({ backend });
  try {
    const prompt = [5, 17, 42, 8];
    const r = await post(
      '/v1/completions',
      { model: backend.name, prompt, max_tokens: 8, temperature: 0, logprobs: 0 },
      s.url,
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const loaded = loadHfModel(dir);
    const gen = new Generator(loaded.model as never, loaded.params);
    const want = await gen.generate([prompt], { maxNewTokens: 8, eosTokenId: [] });
    assert.deepEqual(
      r.json.choices[0].logprobs.tokens,
      want.tokens[0]!.map((i) => `token_id:${i}`),
    );
    // Echo scoring pads prompts on the right to a length bucket; the real positions' log-probs are unchanged.
    const echo = await post(
      '/v1/completions',
      { model: backend.name, prompt, max_tokens: 0, echo: true, logprobs: 1 },
      s.url,
    );
    const direct = await backend.teacher.score({ ids: hostTensor('int64', [1, 4], prompt), logits: true });
    const z = direct.logits!.data as Float32Array;
    for (let j = 1; j < 4; j++) {
      const row = Array.from(z.subarray((j - 1) * 300, j * 300));
      const m = Math.max(...row),
        lse = m + Math.log(row.reduce((acc, x) => acc + Math.exp(x - m), 0));
      assert.ok(Math.abs(echo.json.choices[0].logprobs.token_logprobs[j] - (row[prompt[j]!]! - lse)) < 1e-5);
    }
    assertApiError(
      await post('/v1/chat/completions', { model: backend.name, messages: [{ role: 'user', content: 'hi' }] }, s.url),
      400,
      'messages',
    );
  } finally {
    await s.close();
  }
});

test('a full queue answers 429 with Retry-After; a client that hangs up frees its slot', async () => {
  const s = await startServer({ backend: onnx, concurrency: 1, queue: 1 });
  try {
    const body = { model: onnx.name, prompt: 'The cat sat on the', max_tokens: 40, temperature: 0 };
    const results = await Promise.all(Array.from({ length: 5 }, () => post('/v1/completions', body, s.url)));
    const statuses = results.map((r) => r.status).sort();
    assert.ok(statuses.filter((x) => x === 200).length >= 2, statuses.join());
    const busy = results.find((r) => r.status === 429);
    assert.ok(busy, `expected a 429 among ${statuses.join()}`);
    assertApiError(busy, 429, null, 'queue_full');
    assert.equal(busy.headers.get('retry-after'), '1');
    // Hang up mid-stream.
    const abort = new AbortController();
    const res = await fetch(`${s.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ ...body, stream: true }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    for (let i = 0; i < 50 && s.stats().inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.stats().inFlight, 0, 'the abandoned generation stopped');
    assert.equal((await post('/v1/completions', { ...body, max_tokens: 2 }, s.url)).status, 200);
  } finally {
    await s.close();
  }
});

test('an exported ONNX file with a KV cache generates what the Retort model generates (padded batch)', async () => {
  const dir = join(FIXTURES, 'hf/tiny-gpt2');
  const loaded = loadHfModel(dir);
  const tmp = mkdtempSync(join(tmpdir(), 'retort-serve-onnx-'));
  try {
    const file = join(tmp, 'model.onnx');
    writeFileSync(file, encodeModel(decoderOnnxModel(loaded.model as never, loaded.params)));
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(loaded.hfConfig));
    const backend = await onnxBackend(file, { tokenizer: null });
    assert.equal(backend.maxPositions, 64);
    const s = await startServer({ backend });
    try {
      const prompts = [
        [5, 17, 42, 8, 9, 11],
        [3, 1],
      ];
      const r = await post(
        '/v1/completions',
        { model: backend.name, prompt: prompts, max_tokens: 7, temperature: 0, logprobs: 0 },
        s.url,
      );
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const want = await new Generator(loaded.model as never, loaded.params).generate(prompts, {
        maxNewTokens: 7,
        eosTokenId: [],
      });
      assert.deepEqual(
        r.json.choices.map((c: any) => c.logprobs.tokens),
        want.tokens.map((t) => t.map((i) => `token_id:${i}`)),
      );
    } finally {
      await s.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
