// The HTTP teacher against retort serve on 127.0.0.1 (through a scriptable proxy for failures):
// top-k equals the model run directly; 429/5xx/timeouts/dropped connections are retried with
// Retry-After honoured; the budget stops cleanly; the cache answers a second run without the
// network and survives a torn last line; the API key never appears in errors; alignment across
// tokenizers; generation and classification by prompting.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, test } from 'node:test';
import { trainByteLevelBpe } from '../../models/tokenizers/train-byte-level-bpe.ts';
import { hostTensor } from '../../runtime/index.ts';
import { loadBackend, type ServeBackend } from '../../serve/backend.ts';
import { startServer, type RunningServer } from '../../serve/server.ts';
import { BudgetExhaustedError, HttpError } from './client.ts';
import { HttpTeacher, type HttpTeacherOptions } from './teacher.ts';
import { startProxy, type TestProxy } from './testing.ts';

const MODEL = join(import.meta.dirname, '../../../fixtures/onnx/tiny-gpt2.onnx');
let backend: ServeBackend;
let server: RunningServer;
let proxy: TestProxy;
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'retort-http-'));
  dirs.push(d);
  return d;
};

before(async () => {
  backend = await loadBackend(MODEL);
  server = await startServer({ backend, concurrency: 2 });
  proxy = await startProxy(server.url);
});
after(async () => {
  await proxy.close();
  await server.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const teacherOf = (o: Partial<HttpTeacherOptions> = {}) =>
  new HttpTeacher({
    baseUrl: `${proxy.url}/v1`,
    model: 'tiny-gpt2',
    tokenizer: backend.tokenizer,
    retryBaseMs: 5,
    retryMaxMs: 20,
    env: {},
    ...o,
  });
const ROWS = [
  [84, 104, 101, 32, 99, 97, 116, 32],
  [82, 101, 100, 44, 32, 103, 114, 101],
]; // "The cat ", "Red, gre"
const ids = hostTensor('int64', [2, 8], ROWS.flat());

test('top-k over HTTP equals the model run directly, position by position', async () => {
  const http = teacherOf();
  try {
    const [got, want] = await Promise.all([http.score({ ids, topK: 4 }), backend.teacher.score({ ids, topK: 4 })]);
    assert.deepEqual(got.topk!.ids.shape, [2, 8, 4]);
    assert.deepEqual([...(got.topk!.ids.data as BigInt64Array)], [...(want.topk!.ids.data as BigInt64Array)]);
    const a = got.topk!.logprobs.data as Float32Array,
      b = want.topk!.logprobs.data as Float32Array;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-5, `entry ${i}: ${a[i]} vs ${b[i]}`);
    assert.match(http.fingerprint, /^http:tiny-gpt2:unversioned:[0-9a-f]{8}$/);
    await assert.rejects(http.score({ ids, logits: true }), /cannot return logits/);
  } finally {
    http.close();
  }
});

test('429 (Retry-After), 503, a timeout and a dropped connection are retried; a 400 is not', async () => {
  const events: string[] = [];
  const http = teacherOf({
    timeoutMs: 300,
    onEvent: (e) => events.push(e.kind === 'retry' ? `${e.attempt}:${e.waitMs}` : e.kind),
  });
  try {
    proxy.script.push(
      { kind: 'status', status: 429, retryAfter: '0' },
      { kind: 'status', status: 503 },
      { kind: 'hang', ms: 1000 },
      { kind: 'reset' },
    );
    const res = await http.score({ ids: hostTensor('int64', [1, 8], ROWS[0]!), topK: 2 });
    assert.deepEqual(res.topk!.ids.shape, [1, 8, 2]);
    assert.equal(http.client.stats.retries, 4);
    assert.equal(events[0], '1:0', 'Retry-After: 0 waited 0 ms');
    proxy.script.push({ kind: 'status', status: 400, body: '{"error":{"message":"no"}}' });
    await assert.rejects(
      http.complete('x', { maxTokens: 1 }),
      (e: HttpError) => e.status === 400 && /HTTP 400/.test(e.message),
    );
    assert.equal(http.client.stats.retries, 4, 'no retry on 400');
    proxy.script.push(...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 500 })));
    const stubborn = teacherOf({ maxRetries: 2 });
    await assert.rejects(stubborn.complete('y', { maxTokens: 1 }), /HTTP 500.*gave up after 3 tries/);
    stubborn.close();
  } finally {
    http.close();
  }
});

test('the budget stops new requests cleanly; cached answers stay free; a second run pays nothing', async () => {
  const cacheDir = tmp();
  const first = teacherOf({ cacheDir, budget: { maxRequests: 2 } });
  const row = (r: number[]) => hostTensor('int64', [1, r.length], r);
  await first.score({ ids: row(ROWS[0]!), topK: 3 });
  await first.score({ ids: row(ROWS[1]!), topK: 3 });
  await assert.rejects(first.score({ ids: row([84, 104, 101]), topK: 3 }), BudgetExhaustedError);
  await first.score({ ids: row(ROWS[0]!), topK: 3 }); // from the cache, free
  assert.deepEqual([first.client.stats.network, first.client.stats.cacheHits], [2, 1]);
  assert.throws(() => teacherOf({ cacheDir }), /already open in this process/);
  first.close();
  // A torn last line (a process killed mid-write) is cut away on open.
  appendFileSync(join(cacheDir, 'responses.jsonl'), '{"k":"abc","r":{"trunc');
  const before = proxy.seen.length;
  const second = teacherOf({ cacheDir, budget: { maxRequests: 0 } });
  const again = await second.score({ ids, topK: 3 });
  assert.deepEqual(again.topk!.ids.shape, [2, 8, 3]);
  assert.equal(proxy.seen.length, before, 'no request reached the network');
  assert.equal(second.client.cached, 2);
  second.close();
  assert.equal(readFileSync(join(cacheDir, 'responses.jsonl'), 'utf8').trim().split('\n').length, 2);
});

test('the API key comes from the environment, is sent, and never appears in errors or inspection', async () => {
  const key = 'sk-test-S3CRET-0123456789';
  const http = teacherOf({ env: { RETORT_API_KEY: key }, maxRetries: 0 });
  try {
    proxy.script.push({ kind: 'echo-auth', status: 401 });
    const err = await http.complete('x', { maxTokens: 1 }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err instanceof HttpError);
    assert.equal(proxy.seen.at(-1)!.auth, `Bearer ${key}`, 'the key was sent');
    assert.ok(!err.message.includes('S3CRET'), err.message);
    assert.match(err.message, /\[REDACTED\]/);
    assert.ok(!inspect(http, { depth: 5 }).includes('S3CRET'));
    assert.ok(!JSON.stringify(http.o).includes('S3CRET'));
  } finally {
    http.close();
  }
});

test("another tokenizer: targets aligned by character offsets to the teacher's predictions", async () => {
  const text = 'The cat sat on the mat. The dog sat on the log.';
  const student = trainByteLevelBpe([text.repeat(20)], { vocabSize: 290 });
  const http = teacherOf();
  try {
    const [aligned] = await http.scoreForStudent([text], student, 4);
    const a = aligned!;
    assert.ok(a.studentIds.length < text.length, 'the student merges characters');
    // The teacher is byte-level: a boundary at every character, so every student position aligns.
    assert.ok(a.keep.every(Boolean));
    assert.equal(a.stats.aligned, a.studentIds.length);
    const preds = await http.scoreText(text, 4);
    let at = 0;
    for (let t = 0; t < a.studentIds.length; t++) {
      at += student.decode([a.studentIds[t]!]).length; // where the next student token starts
      const p = preds.find((x) => x.offset === at)!;
      const mapped = a.ids[t]!.map((id) => student.decode([id]));
      const first = p.top.find((c) => student.tokenToId(c.text) !== undefined || mapped.includes(c.text))!;
      assert.equal(mapped[0], first.text, `position ${t}`);
      assert.ok(Math.abs(a.logprobs[t]![0]! - first.logprob) < 1e-9);
    }
  } finally {
    http.close();
  }
});

test('generation and classification by prompting; generated text is cached', async () => {
  const http = teacherOf({ cacheDir: tmp() });
  try {
    const g = await http.complete('The cat', { maxTokens: 6, temperature: 0 });
    assert.equal(g.text.length > 0, true);
    const again = await http.complete('The cat', { maxTokens: 6, temperature: 0 });
    assert.deepEqual(again, g);
    assert.equal(http.client.stats.cacheHits, 1);
    const c = await http.chat([{ role: 'user', content: 'Red, green' }], { maxTokens: 4, temperature: 0, seed: 3 });
    assert.equal(typeof c.text, 'string');
    // A byte-level model's first answer token is one character: letters as labels.
    const labels = 'abcdefghijklmnopqrstuvwxyz'.split('');
    const cls = await http.classify('The cat sat', { labels, instruction: 'Label:', topLogprobs: 20 });
    assert.ok(labels.includes(cls.label));
    assert.ok(Math.abs(Object.values(cls.probs).reduce((s, p) => s + p, 0) - 1) < 1e-9);
  } finally {
    http.close();
  }
});
