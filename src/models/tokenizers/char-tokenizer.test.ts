import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSotu } from '../../data/sotu.ts';
import { CharTokenizer } from './char-tokenizer.ts';
import { loadHfTokenizer } from './hf-tokenizer.ts';

test('one id per character; unknown characters become <unk>; specials stay whole', () => {
  const tok = CharTokenizer.fromCorpus(['hello world', 'über'], { eosToken: '<eos>' });
  // <unk>=0, <eos>=1, then ' ', 'b', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ü' in code point order.
  assert.equal(tok.vocabSize, 12);
  assert.deepEqual(tok.encode('hello'), [6, 5, 7, 7, 8]);
  assert.deepEqual(tok.encode('hez<eos>'), [6, 5, 0, 1]);
  assert.equal(tok.decode(tok.encode('über world')), 'über world');
  assert.equal(tok.decode([6, 0, 1], { skipSpecialTokens: true }), 'h');
  assert.equal(tok.eosId, 1);
  assert.equal(tok.unkId, 0);
  assert.throws(() => tok.decode([12]), /id 12 is not in the vocabulary/);
});

test('round trip on SOTU text, and save/load through tokenizer.json', () => {
  const texts = loadSotu()
    .slice(-5)
    .map((s) => s.text);
  const tok = CharTokenizer.fromCorpus(texts, { eosToken: '<|endoftext|>' });
  for (const t of texts) assert.equal(tok.decode(tok.encode(t)), t);
  const dir = mkdtempSync(join(tmpdir(), 'retort-char-'));
  tok.save(dir);
  const back = CharTokenizer.load(dir);
  assert.equal(back.vocabSize, tok.vocabSize);
  assert.equal(back.eosId, tok.eosId);
  const sample = `${texts[0]!.slice(0, 2000)}<|endoftext|>☃`;
  assert.deepEqual(back.encode(sample), tok.encode(sample));
  // The saved file is a real Hugging Face tokenizer: the generic loader encodes the same ids.
  const hf = loadHfTokenizer(dir);
  assert.deepEqual(hf.encode(sample), tok.encode(sample));
  assert.equal(hf.decode(tok.encode('The Union')), 'The Union');
});
