import { test } from 'node:test';
import assert from 'node:assert/strict';
import { safeChunks } from './safe-chunks.ts';

const text = Array.from({ length: 400 }, (_, i) => `line ${i} naïve 😀 words\n`).join('');

test('chunks join back to the text, are about the size asked, and end where the check agreed', () => {
  const agreed = new Set<string>();
  const agrees = (left: string, right: string) => {
    const ok = !right.startsWith(' words'); // refuse some candidates, so a refusal moves the cut
    if (ok) agreed.add(left.slice(-8) + right.slice(0, 8));
    return ok;
  };
  const chunks = [...safeChunks([text.slice(0, 3000), text.slice(3000)], agrees, { chunkChars: 500 })];
  assert.equal(chunks.join(''), text);
  assert.ok(chunks.length > 10, `${chunks.length} chunks`);
  for (let i = 0; i + 1 < chunks.length; i++) {
    const [left, right] = [chunks[i]!, chunks[i + 1]!];
    assert.ok(left.length > 400 && left.length < 1000, `chunk ${i} has ${left.length} characters`);
    assert.ok(left.endsWith('\n') || right.startsWith(' '), `chunk ${i} ends at a line start or before a space`);
    assert.ok(!right.startsWith(' words'), `chunk ${i + 1} starts where the check refused`);
    assert.ok(agreed.has(left.slice(-8) + right.slice(0, 8)), `the cut after chunk ${i} was one the check agreed to`);
  }
});

test('a check that never agrees leaves the text in one chunk', () => {
  let asked = 0;
  const chunks = [...safeChunks([text], () => (asked++, false), { chunkChars: 300 })];
  assert.deepEqual(chunks, [text]);
  assert.ok(asked > 0);
});

test('text without any candidate boundary, and empty text, pass through whole', () => {
  const word = 'x'.repeat(5000);
  assert.deepEqual([...safeChunks([word], () => true, { chunkChars: 100 })], [word]);
  assert.deepEqual([...safeChunks(['', ''], () => true, { chunkChars: 100 })], []);
});
