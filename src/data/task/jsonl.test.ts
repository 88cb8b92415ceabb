import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLines } from './jsonl.ts';

const lines = (text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'retort-jsonl-')), 'x.jsonl');
  writeFileSync(path, text);
  return [...readLines(path)];
};

test('lines keep their numbers past blank ones; CR endings are dropped; the last line needs no newline', () => {
  assert.deepEqual(lines('a\r\n\r\n\n  \nb é\n\rc\r\nlast'), [
    { line: 1, text: 'a' },
    { line: 5, text: 'b é' },
    { line: 6, text: '\rc' },
    { line: 7, text: 'last' },
  ]);
  assert.deepEqual(lines('only\n'), [{ line: 1, text: 'only' }]);
  assert.deepEqual(lines(''), []);
  assert.deepEqual(lines('\r'), []);
});
