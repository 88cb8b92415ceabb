import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabelledJsonl } from './labelled-corpus.ts';

const file = (text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'retort-labelled-')), 'texts.jsonl');
  writeFileSync(path, text);
  return path;
};

test('labelled lines are read with CRLF endings, blank lines and multi-byte text; names sorted into labels', () => {
  const path = file(
    '{"text": "café 😀", "label": "ham"}\r\n\n{"text": "中文", "label": "spam"}\r\n   \n{"text": "x", "label": "ham"}',
  );
  assert.deepEqual(readLabelledJsonl(path), {
    items: [
      { text: 'café 😀', label: 0 },
      { text: '中文', label: 1 },
      { text: 'x', label: 0 },
    ],
    labels: ['ham', 'spam'],
  });
});

test('a bad line is named by file and line number (blank lines counted) with what was wrong', () => {
  const bad = file('{"text": "a", "label": "x"}\n\n{"text": "b", "label": 1.5}\n');
  assert.throws(
    () => readLabelledJsonl(bad),
    new Error(
      `${bad}:3: expected {"text": string, "label": string or non-negative integer}, got {"text": "b", "label": 1.5}`,
    ),
  );
  const notJson = file('{"text": "a", "label": "x"}\n{"text": \n');
  assert.throws(
    () => readLabelledJsonl(notJson),
    new Error(`${notJson}:2: not JSON; each line must be an object like {"text": "...", "label": "spam"}`),
  );
  assert.throws(() => readLabelledJsonl(file('\n\n')), /texts\.jsonl: no labelled lines/);
});

test('a file of many integer-labelled lines reads (labels counted without spreading them onto the stack)', () => {
  const n = 200_000;
  const lines = Array.from({ length: n }, (_, i) => `{"text": "t${i}", "label": ${i % 3}}`);
  const { items, labels } = readLabelledJsonl(file(lines.join('\n')));
  assert.equal(items.length, n);
  assert.deepEqual(labels, ['0', '1', '2']);
  assert.deepEqual(items[n - 1], { text: `t${n - 1}`, label: (n - 1) % 3 });
});
