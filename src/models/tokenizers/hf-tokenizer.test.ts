import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HfTokenizer, loadHfTokenizer, type TokenizerJson } from './hf-tokenizer.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'retort-tok-'));

/**
 * A GPT-2-style byte-level BPE small enough to work out by hand: 'Ġ' is the byte-level space.
 * "hello" merges h+e, l+l, he+ll, hell+o; " world" merges Ġ+w, o+r, Ġw+or and leaves l, d.
 */
const tinyByteLevel: TokenizerJson = {
  version: '1.0',
  added_tokens: [{ id: 16, content: '<|endoftext|>', special: true, normalized: false }],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE',
    vocab: {
      h: 0,
      e: 1,
      l: 2,
      o: 3,
      Ġ: 4,
      w: 5,
      r: 6,
      d: 7,
      '!': 8,
      he: 9,
      ll: 10,
      hell: 11,
      hello: 12,
      Ġw: 13,
      or: 14,
      Ġwor: 15,
      '<|endoftext|>': 16,
    },
    merges: ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or'],
  },
};

test('a hand-written byte-level BPE gives the ids worked out by hand', () => {
  const tok = new HfTokenizer(tinyByteLevel, { eos_token: '<|endoftext|>' });
  assert.deepEqual(tok.encode('hello world!'), [12, 15, 2, 7, 8]);
  assert.deepEqual(tok.encode('hold'), [0, 3, 2, 7], 'no merge applies');
  assert.deepEqual(tok.encode('lll'), [10, 2], 'equal pairs merge leftmost first');
  assert.equal(tok.decode([12, 15, 2, 7, 8]), 'hello world!');
  assert.equal(tok.vocabSize, 17);
  assert.equal(tok.eosId, 16);
  assert.equal(tok.bosId, undefined);
  assert.equal(tok.idToToken(13), 'Ġw');
  assert.equal(tok.tokenToId('hell'), 11);
  assert.equal(tok.decode([]), '');
  assert.throws(() => tok.decode([17]), /id 17 is not in the vocabulary \(ids are 0\.\.16\)/);
  // A character outside the vocabulary, with neither unk_token nor byte_fallback, is dropped: the Rust
  // library's BPE does the same. Real byte-level vocabularies hold all 256 bytes, so it never happens there.
  assert.deepEqual(tok.encode('hzello'), [0, 1, 10, 3]);
});

test('a special token in the text is one id, and skipSpecialTokens drops it', () => {
  const tok = new HfTokenizer(tinyByteLevel, { eos_token: '<|endoftext|>' });
  assert.deepEqual(tok.encode('hello<|endoftext|>hello'), [12, 16, 12]);
  assert.equal(tok.decode([12, 16, 12]), 'hello<|endoftext|>hello');
  assert.equal(tok.decode([12, 16, 12], { skipSpecialTokens: true }), 'hellohello');
});

/** SentencePiece-style BPE as Llama-2's tokenizer.json has it: '▁' marks spaces, unknown characters fall back to <0xNN> bytes. */
function llama2Style(): TokenizerJson {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  Object.assign(vocab, { '▁': 259, h: 260, i: 261, '▁h': 262, '▁hi': 263 });
  return {
    added_tokens: [
      { id: 0, content: '<unk>', special: true, normalized: false },
      { id: 1, content: '<s>', special: true, normalized: false },
      { id: 2, content: '</s>', special: true, normalized: false },
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'BPE', unk_token: '<unk>', fuse_unk: true, byte_fallback: true, vocab, merges: ['▁ h', '▁h i'] },
  };
}

test('SentencePiece-style BPE: ▁ for spaces, byte fallback for unknown characters, BOS from the template', () => {
  const tok = new HfTokenizer(llama2Style(), { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' });
  assert.deepEqual(tok.encode('hi hi'), [263, 263]);
  // '✓' is U+2713 = E2 9C 93 in UTF-8, so <0xE2> <0x9C> <0x93> = 3 + byte.
  assert.deepEqual(tok.encode('hi✓'), [263, 3 + 0xe2, 3 + 0x9c, 3 + 0x93]);
  assert.equal(tok.decode([263, 3 + 0xe2, 3 + 0x9c, 3 + 0x93]), 'hi✓');
  assert.deepEqual(tok.encode('hi', { addSpecialTokens: true }), [1, 263]);
  assert.equal(tok.decode([1, 263, 263, 2], { skipSpecialTokens: true }), 'hi hi');
  assert.deepEqual([tok.bosId, tok.eosId, tok.unkId], [1, 2, 0]);
});

test('Metaspace pre-tokenizer and decoder (newer Llama/Mistral files) give the same ids', () => {
  const json = llama2Style();
  json.normalizer = null;
  json.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
  json.decoder = {
    type: 'Sequence',
    decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first' }],
  };
  const tok = new HfTokenizer(json, {});
  assert.deepEqual(tok.encode('hi hi'), [263, 263]);
  assert.equal(tok.decode([263, 263]), 'hi hi');
});

test('loadHfTokenizer reads a folder: tokenizer.json, tokenizer_config.json and chat_template.jinja', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tinyByteLevel));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ eos_token: { content: '<|endoftext|>', __type: 'AddedToken' }, pad_token: '<|endoftext|>' }),
  );
  writeFileSync(join(dir, 'chat_template.jinja'), '{% for m in messages %}{{ m.content }}{% endfor %}');
  const tok = loadHfTokenizer(dir);
  assert.deepEqual(tok.encode('hello world!'), [12, 15, 2, 7, 8]);
  assert.equal(tok.eosId, 16);
  assert.equal(tok.padId, 16);
  assert.equal(tok.chatTemplate, '{% for m in messages %}{{ m.content }}{% endfor %}');
  assert.deepEqual(
    loadHfTokenizer(join(dir, 'tokenizer.json')).encode('hello'),
    [12],
    'a tokenizer.json path works too',
  );

  const out = tmp();
  tok.save(out);
  const back = loadHfTokenizer(out);
  assert.deepEqual(back.encode('hello world!<|endoftext|>'), [12, 15, 2, 7, 8, 16]);
  assert.equal(back.chatTemplate, tok.chatTemplate, 'the template is saved into tokenizer_config.json');
});

test('loadHfTokenizer explains a missing tokenizer.json', () => {
  const dir = tmp();
  assert.throws(() => loadHfTokenizer(dir), /tokenizer\.json: no such file; download tokenizer\.json/);
  writeFileSync(join(dir, 'tokenizer.model'), '');
  assert.throws(() => loadHfTokenizer(dir), /only a SentencePiece tokenizer\.model; convert it with transformers/);
});
