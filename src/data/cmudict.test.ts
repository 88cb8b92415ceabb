import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCmudict, splitByWord } from './cmudict.ts';

test('CMUdict loads plain words with their first pronunciation', () => {
  const d = loadCmudict();
  assert.ok(d.length > 100_000, `${d.length} words`);
  const byWord = new Map(d.map((e) => [e.word, e.phones]));
  assert.equal(byWord.get('aardvark'), 'AA1 R D V AA2 R K');
  assert.equal(byWord.get('aaronson'), 'EH1 R AH0 N S AH0 N', 'the first of two pronunciations');
  assert.ok(d.every((e) => /^[a-z]+$/.test(e.word) && /^[A-Z]+[012]?( [A-Z]+[012]?)*$/.test(e.phones)));
  assert.equal(new Set(d.map((e) => e.word)).size, d.length, 'one entry per word');
});

test('the split is by word, disjoint, stable and near the asked shares', () => {
  const d = loadCmudict();
  const s = splitByWord(d, { validation: 0.05, test: 0.05 });
  assert.equal(s.train.length + s.validation.length + s.test.length, d.length);
  const train = new Set(s.train.map((e) => e.word));
  assert.ok(s.test.every((e) => !train.has(e.word)) && s.validation.every((e) => !train.has(e.word)));
  assert.ok(Math.abs(s.test.length / d.length - 0.05) < 0.005);
  assert.deepEqual(
    splitByWord(d.slice(0, 500), { validation: 0.05, test: 0.05 }).test,
    s.test.filter((e) => d.slice(0, 500).includes(e)),
  );
});
