// A labelling run against `retort serve` in a child process; the server is SIGKILLed mid-run, the
// run fails, the server comes back on the same port, the run is started again and finishes. The
// store then holds every example exactly once, in order and equal to the teacher run directly; the
// response cache holds each request once; and the restarted server was asked only for what the
// cache did not already hold (nothing paid twice).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hostTensor } from '../../runtime/index.ts';
import { spawnServer, type ChildServer } from '../../serve/testing/spawn.ts';
import { HttpTeacher } from '../../teachers/http/index.ts';
import { OnnxTeacher } from '../../teachers/onnx/index.ts';
import { StoreReader } from '../store/index.ts';
import { labelShard, mergeShards } from './index.ts';

const MODEL = join(import.meta.dirname, '../../../fixtures/onnx/tiny-gpt2.onnx');
const TEXT = Buffer.from(
  'The cat sat on the mat. The dog sat on the log. The teacher speaks and the student listens. Red, green, blue. One, two, three, four. ',
  'utf8',
);
const N = 24,
  T = 12,
  K = 4;
const examples = Array.from({ length: N }, (_, i) => Int32Array.from(TEXT.subarray(i * 3, i * 3 + T)));
const requestsSeen = (c: ChildServer) => (c.output().match(/POST \/v1\/completions 200/g) ?? []).length;

test('server SIGKILLed mid-run: the run resumes, each example stored once, nothing paid twice', async () => {
  const root = mkdtempSync(join(tmpdir(), 'retort-label-kill-'));
  const cacheDir = join(root, 'http-cache');
  const children: ChildServer[] = [];
  const teacherAt = (url: string) =>
    new HttpTeacher({
      baseUrl: `${url}/v1`,
      model: 'tiny-gpt2',
      vocabSize: 257,
      cacheDir,
      concurrency: 1,
      maxRetries: 1,
      retryBaseMs: 10,
      env: {},
    });
  const options = { examples, shard: { index: 0, count: 1 }, topK: K, root, batch: 4, tokenizer: 'bytes' };
  try {
    const first = await spawnServer([MODEL]);
    children.push(first);
    const t1 = teacherAt(first.url);
    // Kill the server once 10 answers are cached: in the middle of the third batch of four.
    const watch = setInterval(() => {
      if (t1.client.cached >= 10) {
        first.proc.kill('SIGKILL');
        clearInterval(watch);
      }
    }, 1);
    const failed = await labelShard({ ...options, teacher: t1 }).then(
      () => undefined,
      (e: Error) => e,
    );
    clearInterval(watch);
    assert.ok(failed, 'the first run failed when its server died');
    assert.match(failed.message, /fetch failed|ECONNREFUSED|socket|terminated/);
    const committed = new StoreReader(join(root, 'shard-00000-of-00001')).count;
    const cachedBefore = t1.client.cached;
    assert.ok(committed >= 8 && committed < N && committed % 4 === 0, `committed ${committed}`);
    assert.ok(cachedBefore >= committed, `${cachedBefore} cached answers cover the ${committed} committed examples`);
    t1.close();

    const second = await spawnServer([MODEL, '--port', String(first.port)]);
    children.push(second);
    const t2 = teacherAt(second.url);
    const done = await labelShard({ ...options, teacher: t2 });
    t2.close();
    assert.deepEqual([done.complete, done.skipped, done.labelled], [true, committed, N - committed]);
    assert.equal(t2.client.stats.network, N - cachedBefore, 'the restarted server is asked only for uncached rows');
    // The server's request log reaches us through its stderr pipe, a moment after the answers.
    for (let i = 0; i < 100 && requestsSeen(second) < N - cachedBefore; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(requestsSeen(second), N - cachedBefore);

    // The store: every example once, in order, equal to the teacher run directly.
    const store = new StoreReader(join(root, 'shard-00000-of-00001'));
    assert.equal(store.count, N);
    const direct = await (await OnnxTeacher.load(MODEL)).score({
      ids: hostTensor(
        'int64',
        [N, T],
        examples.flatMap((e) => [...e]),
      ),
      topK: K,
    });
    const wantIds = direct.topk!.ids.data as BigInt64Array,
      wantLp = direct.topk!.logprobs.data as Float32Array;
    for (let i = 0; i < N; i++) {
      const rec = store.get(i); // checks the header's example index and the CRC
      assert.deepEqual([...rec.ids], [...wantIds.subarray(i * T * K, (i + 1) * T * K)].map(Number), `example ${i}`);
      // Compact records (the default) keep log-probs to fp16 rounding: 2^-11 of their size.
      rec.logprobs.forEach((v, j) => {
        const want = wantLp[i * T * K + j]!;
        assert.ok(Math.abs(v - want) <= Math.abs(want) * 2 ** -11 + 1e-5);
      });
    }
    // The cache: one line per request, no key twice.
    const keys = readFileSync(join(cacheDir, 'responses.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { k: string }).k);
    assert.equal(keys.length, N);
    assert.equal(new Set(keys).size, N);
    assert.equal(mergeShards(root, join(root, 'merged')).examples, N);
  } finally {
    for (const c of children) c.proc.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});
