import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSotu } from '../../data/sotu.ts';
import { BYTE_TO_CHAR, GPT2_SPLIT } from './byte-level.ts';
import { learnBpe } from './bpe-learner.ts';
import { countWords, trainByteLevelBpe } from './train-byte-level-bpe.ts';
import { loadHfTokenizer } from './hf-tokenizer.ts';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Older addresses to train on (about 2 MB), later ones to measure on: the test text is unseen. */
function corpus() {
  const all = loadSotu();
  const train: string[] = [];
  let size = 0;
  for (const s of all) {
    if (size > 2_000_000) break;
    train.push(s.text);
    size += bytes(s.text);
  }
  return { train, size, held: all.slice(-6).map((s) => s.text) };
}

test('a 1024-token BPE trained on SOTU compresses unseen addresses below half a token per byte, losslessly', () => {
  const { train, size, held } = corpus();
  const t0 = performance.now();
  const tok = trainByteLevelBpe(train, { vocabSize: 1024 });
  const ms = performance.now() - t0;
  assert.equal(tok.vocabSize, 1024);
  const text = held.join('\n\n');
  const ids = tok.encode(text);
  const ratio = ids.length / bytes(text);
  console.log(
    `bpe 1024: trained on ${(size / 1e6).toFixed(2)} MB in ${ms.toFixed(0)} ms; ${ids.length} tokens for ${bytes(text)} bytes, ratio ${ratio.toFixed(3)}`,
  );
  assert.ok(ratio < 0.5, `ratio ${ratio}`);
  assert.equal(tok.decode(ids), text);
});

test('round trip on several addresses, unicode punctuation and odd text included', () => {
  const { train } = corpus();
  const tok = trainByteLevelBpe(train.slice(0, 40), { vocabSize: 600 });
  const all = loadSotu();
  const samples = [
    ...all
      .filter((s) => /[—’“”–•]/.test(s.text))
      .slice(0, 5)
      .map((s) => s.text),
    'Curly “quotes” — dashes – and ‘apostrophes’ • bullets… and émigrés, naïve café, 東京, emoji 🇺🇸👍🏽',
    '  leading spaces\n\n\ttabs\r\nCRLF   trailing   ',
    '',
  ];
  assert.ok(samples.length >= 7);
  for (const text of samples) assert.equal(tok.decode(tok.encode(text)), text);
});

test('save() writes a tokenizer.json that loadHfTokenizer loads back and that encodes identically', () => {
  const { train } = corpus();
  const tok = trainByteLevelBpe(train.slice(0, 30), {
    vocabSize: 512,
    specialTokens: ['<|endoftext|>', '<|pad|>'],
    padToken: '<|pad|>',
  });
  const dir = mkdtempSync(join(tmpdir(), 'retort-bpe-'));
  tok.save(dir);
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  assert.equal(json.model.type, 'BPE');
  assert.equal(json.pre_tokenizer.type, 'ByteLevel');
  assert.equal(json.decoder.type, 'ByteLevel');
  assert.equal(Object.keys(json.model.vocab).length, 512);
  assert.equal(json.model.merges.length, 512 - 2 - 256);
  assert.deepEqual(
    json.added_tokens.map((t: { content: string; id: number; special: boolean }) => [t.content, t.id, t.special]),
    [
      ['<|endoftext|>', 0, true],
      ['<|pad|>', 1, true],
    ],
  );
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  assert.equal(config.eos_token, '<|endoftext|>');
  assert.equal(config.pad_token, '<|pad|>');

  const back = loadHfTokenizer(dir);
  assert.deepEqual([back.eosId, back.padId, back.vocabSize], [0, 1, 512]);
  for (const text of loadSotu()
    .slice(200, 204)
    .map((s) => s.text))
    assert.deepEqual(back.encode(text), tok.encode(text));
  assert.deepEqual(back.encode('end<|endoftext|>start'), tok.encode('end<|endoftext|>start'));
  assert.equal(back.encode('<|endoftext|>').length, 1, 'a special token is one id');
  assert.equal(back.encode('<|endoftext|>')[0], back.eosId);
});

test("the trainer's own segmentation of every training word is what the encoder produces", () => {
  // Applying merges in rank order (encoding) must reproduce what training did to each word.
  const { train } = corpus();
  const texts = train.slice(0, 20);
  const tok = trainByteLevelBpe(texts, { vocabSize: 700 });
  const counts = countWords(texts, ['<|endoftext|>']);
  const words = [...counts.keys()];
  const learned = learnBpe(
    ['<|endoftext|>', ...BYTE_TO_CHAR],
    words.map((w) => ({ symbols: Int32Array.from(Buffer.from(w, 'utf8'), (b) => 1 + b), count: counts.get(w)! })),
    { vocabSize: 700, minFrequency: 2 },
  );
  let checked = 0;
  for (let i = 0; i < words.length; i++) {
    assert.deepEqual(tok.encode(words[i]!), Array.from(learned.words[i]!), `word ${JSON.stringify(words[i])}`);
    checked++;
  }
  assert.ok(checked > 3000, `checked ${checked} words`);
});

test('special tokens are never learned from or split, and bad options are refused', () => {
  const tok = trainByteLevelBpe(['a<|endoftext|>b '.repeat(200)], { vocabSize: 300 });
  assert.equal(tok.tokenToId('<|endoftext|>'), 0);
  assert.ok(![...Array(tok.vocabSize).keys()].some((i) => i > 0 && tok.idToToken(i)!.includes('endoftext')));
  assert.throws(
    () => trainByteLevelBpe([], { vocabSize: 100 }),
    /vocabSize must be an integer >= 257 \(1 special tokens \+ 256 bytes\), got 100/,
  );
  const small = trainByteLevelBpe(['ab ab ab'], { vocabSize: 5000 });
  assert.ok(small.vocabSize < 300, 'stops when no pair reaches minFrequency');
});

test('training a 2k vocabulary on ~2 MB takes a few seconds', () => {
  const { train, size } = corpus();
  const t0 = performance.now();
  const tok = trainByteLevelBpe(train, { vocabSize: 2048 });
  const ms = performance.now() - t0;
  console.log(`bpe 2048: trained on ${(size / 1e6).toFixed(2)} MB in ${ms.toFixed(0)} ms`);
  assert.equal(tok.vocabSize, 2048);
  assert.ok(ms < 20_000, `took ${ms} ms`); // generous: shared CI machines are slow; locally ~1-2 s
});

test('GPT-2 byte alphabet and pre-tokenization match the reference', () => {
  assert.deepEqual(
    [BYTE_TO_CHAR[0x20], BYTE_TO_CHAR[0x0a], BYTE_TO_CHAR[0x41], BYTE_TO_CHAR[0xad]],
    ['Ġ', 'Ċ', 'A', 'Ń'],
  );
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.deepEqual("I'm here  now, 2024!".match(GPT2_SPLIT), ['I', "'m", ' here', ' ', ' now', ',', ' 2024', '!']);
});
