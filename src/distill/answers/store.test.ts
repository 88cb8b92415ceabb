import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fillAnswerStore, filterAnswers } from './fill.ts';
import { AnswerStore, type AnswerIdentity, type StoredAnswer } from './store.ts';

const root = mkdtempSync(join(tmpdir(), 'retort-answers-'));
after(() => rmSync(root, { recursive: true, force: true }));
let k = 0;
const fresh = () => join(root, `s${k++}`);
const identity: AnswerIdentity = {
  teacher: 'f'.repeat(64),
  tokenizer: 'a'.repeat(64),
  settings: { n: 1, maxNewTokens: 16, temperature: 0, seed: 0 },
};
const ans = (text: string, finish: StoredAnswer['finish'] = 'stop'): StoredAnswer => ({
  text,
  ids: [...text].map((c) => c.charCodeAt(0)),
  finish,
});

test('round trip, reopen and continue; each prompt once', () => {
  const dir = fresh();
  const s = AnswerStore.open(dir, identity);
  s.append('a', [ans('AE1 B')]);
  s.append('b', [ans('naïve 🦜')]);
  s.commit();
  assert.throws(() => s.append('a', [ans('x')]), /prompt 'a' already has answers/);
  const again = AnswerStore.open(dir, identity);
  assert.equal(again.size, 2);
  assert.deepEqual(again.get('b'), [ans('naïve 🦜')]);
  again.append('c', [ans('K')]);
  again.commit();
  assert.deepEqual(
    [...AnswerStore.read(dir).entries()].map(([id]) => id),
    ['a', 'b', 'c'],
  );
});

test('a store of another teacher, tokenizer or setting is refused, naming the field', () => {
  const dir = fresh();
  AnswerStore.open(dir, identity).commit();
  assert.throws(
    () => AnswerStore.open(dir, { ...identity, teacher: 'e'.repeat(64) }),
    /another run \(teacher: .*; use another dir, or delete this one/,
  );
  assert.throws(() => AnswerStore.open(dir, { ...identity, tokenizer: 'b'.repeat(64) }), /\(tokenizer: /);
  assert.throws(
    () => AnswerStore.open(dir, { ...identity, settings: { ...identity.settings, temperature: 0.7 } }),
    /settings\.temperature: the store's answers were written with 0, this run asks for 0\.7/,
  );
  assert.throws(
    () => AnswerStore.open(dir, { ...identity, settings: { ...identity.settings, topP: 0.9 } }),
    /settings\.topP/,
  );
});

test('uncommitted bytes (a torn tail) are cut off; a corrupt committed record is refused with its line', () => {
  const dir = fresh();
  const s = AnswerStore.open(dir, identity);
  s.append('a', [ans('one')]);
  s.commit();
  appendFileSync(join(dir, 'answers.jsonl'), '{"id":"b","answers":[{"te');
  const reopened = AnswerStore.open(dir, identity);
  assert.equal(reopened.size, 1);
  reopened.append('b', [ans('two')]);
  reopened.commit();
  assert.equal(AnswerStore.read(dir).size, 2);
  const file = join(dir, 'answers.jsonl');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"two"', '"twx"'));
  assert.throws(
    () => AnswerStore.read(dir),
    /answers\.jsonl:2: a committed record fails its checksum; the store is corrupt/,
  );
});

test('a writer SIGKILLed mid-fill loses nothing committed; the rerun finishes each prompt exactly once', async () => {
  const dir = fresh();
  const N = 60;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'writer-child.ts'), dir, String(N)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let seen = 0;
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      seen = Math.max(seen, ...d.toString().trim().split('\n').map(Number));
      if (seen >= 15) child.kill('SIGKILL');
    });
    child.on('exit', () => resolve());
  });
  assert.ok(seen >= 15 && seen < N, `killed after ${seen} prompts`);
  const half = AnswerStore.open(dir, { teacher: 't', tokenizer: 'v', settings: { n: 2 } });
  assert.ok(half.size >= 15 && half.size < N, `${half.size} committed`);
  const committed = half.size;
  const r = await fillAnswerStore(
    half,
    Array.from({ length: N }, (_, i) => ({ id: `p${i}` })),
    async (batch) => batch.map((p) => [ans(`answer to ${p.id}`), ans(`late ${p.id}`)]),
    { batch: 7 },
  );
  assert.deepEqual(r, { generated: N - committed, skipped: committed });
  const final = AnswerStore.read(dir);
  const ids = [...final.entries()].map(([id]) => id);
  assert.equal(ids.length, N);
  assert.equal(new Set(ids).size, N, 'no prompt twice');
  for (const [id, a] of final.entries()) assert.equal(a[0]!.text, `answer to ${id}`);
});

test('filters: empty, truncated, duplicates, and answers that miss the reference', () => {
  const base = {
    dropEmpty: true,
    dropTruncated: true,
    dedupe: true,
    normalize: (s: string) => s.toLowerCase().trim(),
    score: (p: string, r: string) => (p === r ? 100 : p[0] === r[0] ? 70 : 0),
  };
  const answers = [
    ans(''),
    ans('K AE1 T', 'length'),
    ans('K AE1 T'),
    ans('K AE1 T'),
    ans('k ae1 t'),
    ans('KX'),
    ans('D'),
  ];
  const f = filterAnswers(answers, base);
  assert.deepEqual(
    f.kept.map((a) => a.text),
    ['K AE1 T', 'k ae1 t', 'KX', 'D'],
  );
  assert.deepEqual(f.dropped, { empty: 1, truncated: 1, duplicate: 1, noMatch: 0 });
  const exact = filterAnswers(answers, { ...base, reference: 'K AE1 T', match: { kind: 'exact' } });
  assert.deepEqual(
    exact.kept.map((a) => a.text),
    ['K AE1 T', 'k ae1 t'],
  );
  const chrf = filterAnswers(answers, { ...base, reference: 'K AE1 T', match: { kind: 'chrF', min: 60 } });
  assert.deepEqual(
    chrf.kept.map((a) => a.text),
    ['K AE1 T', 'KX'],
  );
  assert.equal(chrf.dropped.noMatch, 2);
});
