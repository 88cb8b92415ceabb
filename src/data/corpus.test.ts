import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CharTokenizer } from '../models/tokenizers/char-tokenizer.ts';
import { countWords, DEFAULT_SPECIAL_TOKENS, trainByteLevelBpe } from '../models/tokenizers/train-byte-level-bpe.ts';
import { sameBpeWords, tokenCorpus, type CorpusSpec } from './corpus.ts';
import { safeChunks } from './safe-chunks.ts';

/**
 * Lines of mixed scripts and emoji, so 1- to 4-byte characters lie across every read edge, with the
 * runs of spaces and blank lines that a careless cut would tokenize differently.
 */
function corpusFile(): string {
  const words = ['naïve', 'café', '中文字', '😀', 'Ünïcödé', 'the', 'ok.', '1234', 'Ελληνικά', ' ', '\n'];
  const lines = Array.from({ length: 500 }, (_, i) =>
    Array.from({ length: 3 + (i % 7) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' '),
  );
  const path = join(mkdtempSync(join(tmpdir(), 'retort-corpus-')), 'corpus.txt');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const path = corpusFile();
const whole = readFileSync(path, 'utf8');
/** A held-out fraction whose cut falls between the two halves of an emoji, as text.slice would cut it. */
const fraction = (() => {
  const at = whole.indexOf('😀', Math.floor(whole.length * 0.8)) + 1;
  return 1 - (at + 0.5) / whole.length;
})();
const cut = Math.floor(whole.length * (1 - fraction));
const [trainText, heldText] = [whole.slice(0, cut), whole.slice(cut)];
/** Reads of 5 bytes and chunks of 200 characters: every multi-byte character is cut somewhere. */
const stream = { readBytes: 5, chunkChars: 200 };
const spec = (tokenizer: CorpusSpec['tokenizer']): CorpusSpec => ({
  dataset: path,
  validation: { fraction },
  tokenizer,
});

test('the test cut really falls inside a surrogate pair', () => {
  assert.equal(whole.codePointAt(cut - 1), '😀'.codePointAt(0));
  assert.equal(cut, whole.indexOf('😀', Math.floor(whole.length * 0.8)) + 1);
});

test('a text file streams to the ids of reading it whole: character tokenizer learned from the stream', () => {
  const got = tokenCorpus(spec({ kind: 'char' }), { stream });
  const want = CharTokenizer.fromCorpus([trainText, heldText]);
  assert.equal(got.tokenizer.vocabSize, want.vocabSize);
  assert.ok(got.train instanceof Int32Array && got.validation instanceof Int32Array);
  assert.deepEqual(Array.from(got.train), want.encode(trainText));
  assert.deepEqual(Array.from(got.validation), want.encode(heldText));
  assert.deepEqual([got.split.train.chars, got.split.validation.chars], [trainText.length, heldText.length]);
});

test('a BPE learned from the streamed file is the one learned from the whole text, and encodes the same', () => {
  const got = tokenCorpus(spec({ kind: 'bpe', vocabSize: 320 }), { stream });
  const want = trainByteLevelBpe([trainText], { vocabSize: 320 });
  const vocab = (t: typeof want) => Array.from({ length: t.vocabSize }, (_, i) => t.idToToken(i));
  assert.deepEqual(vocab(got.tokenizer as typeof want), vocab(want));
  assert.deepEqual(Array.from(got.train), want.encode(trainText));
  assert.deepEqual(Array.from(got.validation), want.encode(heldText));
});

test('the BPE trainer sees the words of the whole text: cuts where its check agrees keep them, careless cuts do not', () => {
  const words = (texts: Iterable<string>) => [...countWords(texts, DEFAULT_SPECIAL_TOKENS)];
  const want = words([trainText]);
  assert.deepEqual(words(safeChunks([trainText], sameBpeWords, { chunkChars: 200 })), want);
  assert.notDeepEqual(words(safeChunks([trainText], () => true, { chunkChars: 200 })), want);
});

test('a given tokenizer gets the same ids with the default read and chunk sizes', () => {
  const tokenizer = trainByteLevelBpe([whole], { vocabSize: 300 });
  const lines: string[] = [];
  const got = tokenCorpus(spec({ kind: 'hf', path: 'unused' }), { tokenizer, log: (l) => lines.push(l) });
  assert.deepEqual(Array.from(got.train), tokenizer.encode(trainText));
  assert.deepEqual(Array.from(got.validation), tokenizer.encode(heldText));
  assert.match(lines[0]!, new RegExp(`^data: ${path}, first \\d+% \\(0\\.0M characters\\) to train`));
  assert.match(lines[1]!, new RegExp(`^tokens: ${got.train.length.toLocaleString('en')} to train`));
});

test('a missing text file is named in the error', () => {
  assert.throws(
    () => tokenCorpus({ ...spec({ kind: 'char' }), dataset: join(tmpdir(), 'no-such-corpus.txt') }),
    /no-such-corpus\.txt/,
  );
});
