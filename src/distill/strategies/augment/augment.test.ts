import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { HostTensor } from '../../../runtime/index.ts';
import type { TeacherEntry, TextGenerator } from '../context.ts';
import { runDistill } from '../pipeline.ts';
import { BATCH, cleanup, randomTeacher, SEQ, teacherEntry, tinyContext, tinyText, tmpDir } from '../testing.ts';
import { Deduper } from './dedupe.ts';
import type { GeneratedExample, GeneratedManifest } from './examples-file.ts';
import { isGeneratedRow } from './mix.ts';
import { generatedStream } from './strategy.ts';

after(cleanup);

const tok = () => tinyText().tokenizer;

/** Distinct sentences, one per attempt, except attempt 1 (attempt 0 again, other case and spacing) and 2 (attempt 0 with its last word changed). */
const WORDS = [
  'the',
  'people',
  'of',
  'these',
  'states',
  'have',
  'a',
  'right',
  'to',
  'peace',
  'and',
  'union',
  'in',
  'congress',
  'war',
  'law',
];
function scripted(attempt: number): string {
  if (attempt === 1) return 'The  people of these STATES have a right to peace and union';
  if (attempt === 2) return 'the people of these states have a right to peace and law';
  if (attempt === 0) return 'the people of these states have a right to peace and union';
  return (
    Array.from({ length: 8 }, (_, k) => WORDS[(attempt * 7 + k * ((attempt % 5) + 1)) % WORDS.length]).join(' ') +
    ` ${attempt}`
  );
}

/** A teacher whose generate writes the scripted texts (attempt = seed offset of the row), counting calls. */
function scriptedTeacher(calls: { n: number; failAfter?: number }): TeacherEntry {
  const base = teacherEntry(randomTeacher('writer', 1));
  const generate: TextGenerator = async (prompts, o) => {
    if (calls.failAfter !== undefined && calls.n >= calls.failAfter) throw new Error('simulated crash');
    calls.n++;
    return prompts.map((_, r) => tok().encode(scripted(o.seed - 1 + r)));
  };
  return { ...base, generate };
}

const readSet = (dir: string) => ({
  manifest: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as GeneratedManifest,
  examples: readFileSync(join(dir, 'examples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as GeneratedExample),
});

test('generated texts are deduplicated (exact and near) and written as JSONL with a manifest; a rerun reuses them', async () => {
  const dir = tmpDir();
  const set = join(dir, 'aug');
  const config = {
    kind: 'pipeline',
    steps: [
      { kind: 'augment', dir: set, count: 10, batch: 4, promptTokens: 8, dedupe: { ngram: 3, threshold: 0.7 } },
      { kind: 'hardLabels', steps: 2 },
    ],
  } as const;
  const calls = { n: 0 };
  const ctx = await tinyContext(join(dir, 'a'), 2, { teachers: [scriptedTeacher(calls)] });
  await runDistill(ctx, structuredClone(config) as never);
  const { manifest, examples } = readSet(set);
  assert.equal(manifest.kept, 10);
  assert.deepEqual(manifest.dropped, { exact: 1, near: 1 });
  assert.equal(examples.length, 10);
  assert.deepEqual(
    examples.slice(0, 2).map((e) => e.i),
    [0, 3],
    'attempts 1 (exact) and 2 (near) were dropped',
  );
  assert.equal(examples[0]!.text, scripted(0));
  assert.equal(new Set(examples.map((e) => e.text)).size, 10);
  for (const e of examples) assert.equal(e.prompt!.length, 8, 'each text continues an 8-token prompt from the corpus');

  const again = { n: 0 };
  await runDistill(
    await tinyContext(join(dir, 'b'), 2, { teachers: [scriptedTeacher(again)] }),
    structuredClone(config) as never,
  );
  assert.equal(again.n, 0, 'the set on disk is reused');
  assert.deepEqual(readSet(set).examples, examples);
  await assert.rejects(
    runDistill(
      await tinyContext(join(dir, 'c'), 2, {
        teachers: [{ ...scriptedTeacher({ n: 0 }), teacher: randomTeacher('writer', 2) }],
      }),
      structuredClone(config) as never,
    ),
    /holds examples generated with another teacher/,
  );
});

test('an interrupted generation resumes where it stopped and makes the same set', async () => {
  const dir = tmpDir();
  const step = (set: string) => ({
    kind: 'augment' as const,
    dir: set,
    count: 12,
    batch: 3,
    promptTokens: 8,
    dedupe: { ngram: 3, threshold: 0.7 },
  });
  const whole = join(dir, 'whole'),
    broken = join(dir, 'broken');
  await runDistill(await tinyContext(join(dir, 'w'), 1, { teachers: [scriptedTeacher({ n: 0 })] }), {
    kind: 'pipeline',
    steps: [step(whole), { kind: 'hardLabels' }],
  });
  await assert.rejects(
    runDistill(await tinyContext(join(dir, 'x'), 1, { teachers: [scriptedTeacher({ n: 0, failAfter: 2 })] }), {
      kind: 'pipeline',
      steps: [step(broken), { kind: 'hardLabels' }],
    }),
    /simulated crash/,
  );
  assert.equal(readSet(broken).manifest.attempts, 6, 'two batches of 3 attempts were committed');
  const resumed = { n: 0 };
  await runDistill(await tinyContext(join(dir, 'y'), 1, { teachers: [scriptedTeacher(resumed)] }), {
    kind: 'pipeline',
    steps: [step(broken), { kind: 'hardLabels' }],
  });
  assert.ok(resumed.n < 5, `the rerun made only the missing attempts (${resumed.n} calls)`);
  assert.deepEqual(readSet(broken).examples, readSet(whole).examples);
});

test('generated rows are mixed into the training batches at the ratio', async () => {
  const dir = tmpDir();
  const ctx = await tinyContext(dir, 2, { teachers: [teacherEntry(randomTeacher('writer', 3))] });
  const r = await runDistill(ctx, {
    kind: 'pipeline',
    steps: [
      { kind: 'augment', count: 6, batch: 6, promptTokens: 8, maxNewTokens: 24, temperature: 1, ratio: 0.25 },
      { kind: 'hardLabels' },
    ],
  });
  const details = r.reports[0]!.details!;
  assert.equal(details.kept, 6, 'the teacher (src/generate) wrote six texts');
  // Rows are compared as token ids: a row is a window of the generated stream or of the training text.
  const key = (ids: ArrayLike<number>) => `,${Array.from(ids).join(',')},`;
  const generated = key(generatedStream(readSet(join(dir, 'augment')).examples, tok()));
  const corpus = key(tinyText().train);
  const stream = ctx.source({ batch: BATCH, seq: SEQ, seed: 5 }).open();
  let fromGenerated = 0;
  for (let b = 0; b < 10; b++) {
    const ids = stream.next().input_ids as HostTensor;
    for (let row = 0; row < BATCH; row++) {
      const text = key(Array.from((ids.data as BigInt64Array).subarray(row * SEQ, (row + 1) * SEQ), Number));
      const mine = isGeneratedRow(b * BATCH + row, 0.25);
      assert.ok(
        mine ? generated.includes(text) : corpus.includes(text),
        `batch ${b} row ${row} should come from the ${mine ? 'generated' : 'training'} text`,
      );
      if (mine) fromGenerated++;
    }
  }
  assert.equal(fromGenerated, 10, '10 of 40 rows at ratio 0.25');
});

test('offline after augment is refused (the store would drop the generated rows)', async () => {
  const ctx = await tinyContext(tmpDir(), 1, { teachers: [scriptedTeacher({ n: 0 })] });
  await assert.rejects(
    runDistill(ctx, {
      kind: 'pipeline',
      steps: [{ kind: 'augment', count: 4, batch: 4, promptTokens: 8 }, { kind: 'offline' }, { kind: 'kd' }],
    }),
    /offline: 1-augment already changed the training data.*put offline before 1-augment/,
  );
});

test('the deduper drops exact and near duplicates only', () => {
  const d = new Deduper({ ngram: 2, threshold: 0.5 });
  assert.equal(d.offer('a b c d e'), undefined);
  assert.equal(d.offer(' A B  c d e '), 'exact');
  assert.equal(d.offer('a b c d x'), 'near'); // 3 of 5 bigrams shared: Jaccard 0.6
  assert.equal(d.offer('v w x y z'), undefined);
});
