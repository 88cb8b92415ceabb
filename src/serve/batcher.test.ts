// Continuous batching: a row decodes the same tokens whether it runs alone, beside a full batch, or
// joins one mid-way; each row keeps its own sampling settings and stops; a client that goes away
// frees its row at the next step.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBackend, type ServeBackend } from './backend.ts';
import type { Batcher } from './batcher.ts';
import { AbortedError, decode, type DecodeOptions } from './decode.ts';

const TINY = join(import.meta.dirname, '../../fixtures/hf/tiny-gpt2');
// Lengths that straddle the prefill quantum (16), so rows start at different slots.
const PROMPTS = [
  [5, 17, 42],
  [7],
  [250, 3, 3, 9, 100, 31, 8, 64, 12, 90, 91, 92, 93, 94, 95, 96, 97],
  [1, 2, 3, 4, 5, 6, 7, 8],
  [200, 201],
  [33, 44, 55, 66, 77],
];

let backends: Promise<{ batched: ServeBackend; alone: ServeBackend }> | undefined;
const load = () =>
  (backends ??= (async () => ({
    batched: await loadBackend(TINY, { batchRows: 8, threads: 1 }),
    alone: await loadBackend(TINY, { threads: 1 }),
  }))());

const greedy = (b: ServeBackend, maxTokens: number, extra: Partial<DecodeOptions> = {}): DecodeOptions => ({
  maxTokens,
  temperature: 0,
  stop: [],
  eosIds: [],
  tokenizer: b.tokenizer,
  ...extra,
});

async function tokensOf(events: AsyncGenerator<{ row: number; token: number }>, rows: number): Promise<number[][]> {
  const out = Array.from({ length: rows }, (): number[] => []);
  for await (const e of events) out[e.row]!.push(e.token);
  return out;
}

test('greedy rows decode the same alone, in a full batch, beside other requests, and as the unbatched path does', async () => {
  const { batched, alone } = await load();
  const batcher = batched.batcher!;
  const lengths = [12, 5, 20, 9, 16, 3];
  // The unbatched path (one stepper per request), the reference.
  const reference: number[][] = [];
  for (const [i, p] of PROMPTS.entries()) {
    reference.push(
      (
        await tokensOf(
          decode([p], [0], alone.vocabSize, () => alone.stepper([p], lengths[i]!), greedy(alone, lengths[i]!)),
          1,
        )
      )[0]!,
    );
  }
  // Each alone through the batcher.
  for (const [i, p] of PROMPTS.entries())
    assert.deepEqual(
      (await tokensOf(batcher.decode([p], [0], greedy(batched, lengths[i]!)), 1))[0],
      reference[i],
      `prompt ${i} alone`,
    );
  // All at once, as separate requests: they share steps, and short ones leave early.
  const before = { ...batcher.stats };
  const together = await Promise.all(
    PROMPTS.map((p, i) => tokensOf(batcher.decode([p], [0], greedy(batched, lengths[i]!)), 1)),
  );
  assert.deepEqual(
    together.map((t) => t[0]),
    reference,
  );
  const steps = batcher.stats.steps - before.steps;
  assert.ok(
    steps < lengths.reduce((a, b) => a + b, 0) / 2,
    `the requests shared decode steps (${steps} runs for ${lengths.reduce((a, b) => a + b, 0)} tokens)`,
  );
  // One request with every prompt as a row.
  // (Greedy decoding is prefix-consistent: 3 tokens are the first 3 of 12.)
  assert.deepEqual(
    await tokensOf(
      batcher.decode(
        PROMPTS,
        PROMPTS.map(() => 0),
        greedy(batched, 3),
      ),
      PROMPTS.length,
    ),
    reference.map((r) => r.slice(0, 3)),
  );
});

test('a request that joins a running batch mid-way decodes as it would alone; rows beyond maxRows wait', async () => {
  const { batched } = await load();
  const batcher = batched.batcher!;
  const aloneOut = (
    await Promise.all(PROMPTS.map((p) => tokensOf(batcher.decode([p], [0], greedy(batched, 10)), 1)))
  ).map((t) => t[0]!);
  const long = batcher.decode([PROMPTS[2]!], [0], greedy(batched, 30));
  const first = await long.next(); // the long request is running
  const joined = await tokensOf(batcher.decode([PROMPTS[0]!], [0], greedy(batched, 10)), 1);
  assert.deepEqual(joined[0], aloneOut[0]);
  const rest: number[] = [first.value!.token];
  for await (const e of long) rest.push(e.token);
  assert.equal(rest.length, 30);
  // 12 rows of a batcher with 8: four wait, then take the rows the first ones free.
  const many = await tokensOf(batcher.decode([...PROMPTS, ...PROMPTS], Array(12).fill(0), greedy(batched, 10)), 12);
  assert.deepEqual(many, [...aloneOut, ...aloneOut]);
  assert.deepEqual(batcher.load, { active: 0, waiting: 0 });
});

test('each row keeps its own sampling settings, seed and stop tokens; a client that goes away frees its row', async () => {
  const { batched } = await load();
  const batcher: Batcher = batched.batcher!;
  const sampled = (seed: number) =>
    tokensOf(batcher.decode([PROMPTS[3]!], [seed], { ...greedy(batched, 12), temperature: 0.9, topK: 20 }), 1);
  const a = await sampled(7),
    b = await sampled(8);
  const [a2, g, b2] = await Promise.all([
    sampled(7),
    tokensOf(batcher.decode([PROMPTS[3]!], [0], greedy(batched, 12)), 1),
    sampled(8),
  ]);
  assert.deepEqual(a2, a, 'the same seed samples the same tokens beside other rows');
  assert.deepEqual(b2, b);
  assert.notDeepEqual(a, b, 'another seed samples other tokens');
  // A stop token ends its row only.
  const stopAt = g[0]![4]!;
  const stopped = await tokensOf(batcher.decode([PROMPTS[3]!], [0], greedy(batched, 12, { eosIds: [stopAt] })), 1);
  assert.equal(stopped[0]!.at(-1), stopAt);
  assert.ok(stopped[0]!.length <= 5);

  const controller = new AbortController();
  const gone = batcher.decode([PROMPTS[1]!, PROMPTS[4]!], [0, 0], {
    ...greedy(batched, 40),
    signal: controller.signal,
  });
  const stays = tokensOf(batcher.decode([PROMPTS[5]!], [0], greedy(batched, 40)), 1);
  await gone.next();
  controller.abort();
  await assert.rejects(async () => {
    for await (const _ of gone);
  }, AbortedError);
  assert.equal((await stays)[0]!.length, 40, 'the other request is undisturbed');
  assert.deepEqual(batcher.load, { active: 0, waiting: 0 }, 'the rows were freed');
});
