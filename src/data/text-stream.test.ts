import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTextPieces, slicePieces, textLength } from './text-stream.ts';

/** A byte order mark, 2-, 3- and 4-byte characters, and bytes that are not UTF-8 at all. */
function awkwardFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'retort-text-')), 'corpus.txt');
  const line = Buffer.concat([
    Buffer.from('café 中文 😀\r\n', 'utf8'),
    Buffer.from([0xff, 0x61, 0xc3, 0x0a, 0xe4, 0xb8]), // a stray byte, a cut 2-byte and a cut 3-byte sequence
    Buffer.from('end 🎉', 'utf8'),
  ]);
  const bytes = Buffer.concat([Buffer.from('\ufeff', 'utf8'), line, line, line]);
  writeFileSync(path, bytes);
  return path;
}

test('the pieces join to what readFileSync decodes, whatever chunk edge cuts a character', () => {
  const path = awkwardFile();
  const whole = readFileSync(path, 'utf8');
  for (let chunk = 1; chunk <= 9; chunk++) {
    const pieces = [...readTextPieces(path, chunk)];
    assert.ok(pieces.length >= 12, `${chunk}-byte reads give many pieces (${pieces.length})`);
    assert.equal(pieces.join(''), whole, `${chunk}-byte reads`);
    assert.equal(textLength(readTextPieces(path, chunk)), whole.length);
  }
});

test('slicePieces cuts where string.slice would, even inside a surrogate pair', () => {
  const path = awkwardFile();
  const whole = readFileSync(path, 'utf8');
  const pair = whole.indexOf('😀') + 1; // between the two halves
  for (const [start, end] of [
    [0, pair],
    [pair, undefined],
    [3, 4],
    [0, 0],
    [whole.length, undefined],
    [2, whole.length - 1],
  ] as const) {
    assert.equal(
      [...slicePieces(readTextPieces(path, 3), start, end)].join(''),
      whole.slice(start, end),
      `${start}..${end}`,
    );
  }
});
