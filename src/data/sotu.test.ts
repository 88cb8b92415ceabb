import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSotu, splitSotuByYear } from './sotu.ts';

test('loadSotu returns every address with year, president, party and text', () => {
  const all = loadSotu();
  assert.ok(all.length >= 225, `expected the full corpus, got ${all.length} addresses`);
  for (const s of all) {
    assert.ok(Number.isInteger(s.year) && s.year >= 1790 && s.year <= new Date().getFullYear(), `year ${s.year}`);
    assert.ok(s.president.length > 0);
    assert.ok(s.text.length > 1000, `${s.year} ${s.president} text is suspiciously short`);
  }
  assert.equal(all[0]!.year, 1790);
  assert.equal(all[0]!.president, 'George Washington');
  assert.equal(all[0]!.party, undefined, 'Washington had no party');
  assert.equal(all.find((s) => s.president === 'Abraham Lincoln')!.party, 'Republican');
  assert.ok(
    all.every((s, i) => i === 0 || all[i - 1]!.year <= s.year),
    'oldest first',
  );
  assert.equal(loadSotu(), all, 'cached in module scope');
  console.log(`sotu: ${all.length} addresses, ${all[0]!.year}..${all.at(-1)!.year}`);
});

test('splitSotuByYear splits in time with no overlap and nothing lost', () => {
  const { train, validation } = splitSotuByYear(1990);
  assert.ok(train.every((s) => s.year <= 1990));
  assert.ok(validation.every((s) => s.year > 1990));
  assert.equal(train.length + validation.length, loadSotu().length);
  const trainTexts = new Set(train.map((s) => s.text));
  assert.ok(validation.every((s) => !trainTexts.has(s.text)));
  assert.ok(validation.length > 20 && train.length > 180);
});
