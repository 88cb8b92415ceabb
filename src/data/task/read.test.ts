import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTaskFile } from './read.ts';
import { isPromptOnly } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-task-'));
let n = 0;
function file(lines: (string | object)[]): string {
  const p = join(dir, `data-${n++}.jsonl`);
  writeFileSync(p, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return p;
}

test('prompt/completion lines, with and without answers; auto says what it decided', () => {
  const logs: string[] = [];
  const p = file([{ prompt: 'ABACUS', completion: 'AE1 B AH0 K AH0 S' }, '', { prompt: 'ZEBRA', id: 'z' }]);
  const f = readTaskFile(p, { format: 'auto', log: (l) => logs.push(l) });
  assert.equal(f.format, 'promptCompletion');
  assert.match(logs[0]!, /format promptCompletion \(from line 1's fields: prompt, completion\)/);
  assert.equal(f.conversations.length, 2);
  assert.deepEqual(f.conversations[0]!.messages, [
    { role: 'user', content: 'ABACUS' },
    { role: 'assistant', content: 'AE1 B AH0 K AH0 S' },
  ]);
  assert.equal(f.conversations[0]!.reference, 'AE1 B AH0 K AH0 S');
  assert.equal(f.conversations[0]!.id, `${p.split('/').at(-1)}:1`);
  assert.equal(f.conversations[1]!.id, 'z');
  assert.equal(f.conversations[1]!.source.line, 3, 'blank lines still count');
  assert.ok(isPromptOnly(f.conversations[1]!));
});

test('OpenAI messages and ShareGPT conversations read into the same form', () => {
  const turns = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello.' },
  ];
  const a = readTaskFile(file([{ messages: turns }]), { format: 'messages' });
  const b = readTaskFile(
    file([
      {
        conversations: [
          { from: 'system', value: 'Be brief.' },
          { from: 'human', value: 'Hi' },
          { from: 'gpt', value: 'Hello.' },
        ],
      },
    ]),
    { format: 'auto' },
  );
  assert.equal(b.format, 'messages');
  assert.deepEqual(a.conversations[0]!.messages, b.conversations[0]!.messages);
  const promptOnly = readTaskFile(file([{ messages: turns.slice(0, 2) }]), { format: 'auto' });
  assert.ok(isPromptOnly(promptOnly.conversations[0]!));
  assert.equal(promptOnly.conversations[0]!.reference, undefined);
});

test('text lines are documents; CRLF endings and NFC normalization', () => {
  const p = join(dir, 'docs.jsonl');
  writeFileSync(p, '{"text": "first doc"}\r\n{"text": "cafe\\u0301"}\r\n');
  const f = readTaskFile(p, { format: 'auto' });
  assert.equal(f.format, 'text');
  assert.deepEqual(
    f.documents.map((d) => d.text),
    ['first doc', 'café'],
  );
  assert.equal(f.documents[1]!.text.length, 4, 'NFC joins e + combining accent');
});

const bad: [string, (string | object)[], RegExp][] = [
  [
    'a line that is not JSON',
    [{ prompt: 'a', completion: 'b' }, '{"prompt": "x",'],
    /:2: not JSON .*fix: write one JSON object per line/,
  ],
  [
    'a line with no known fields',
    [{ question: 'a', answer: 'b' }],
    /:1: has none of the fields of a known format \(it has question, answer\); fix: use one of: text: .*promptCompletion: .*messages: /,
  ],
  [
    'an unknown role',
    [
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'bot', content: 'b' },
        ],
      },
    ],
    /:1: field 'messages\[1\]\.role': unknown role "bot"; fix: use one of system, user, assistant/,
  ],
  [
    'an unknown ShareGPT speaker',
    [
      {
        conversations: [
          { from: 'human', value: 'a' },
          { from: 'robot', value: 'b' },
        ],
      },
    ],
    /field 'conversations\[1\]\.from': unknown role "robot"; fix: use one of system, human, gpt/,
  ],
  [
    'an empty completion',
    [{ prompt: 'a', completion: '  ' }],
    /:1: field 'completion': empty answer; fix: write the answer, or leave completion out/,
  ],
  [
    'an empty assistant turn',
    [
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: '' },
        ],
      },
    ],
    /field 'messages\[1\]\.content': empty answer/,
  ],
  [
    'a content that is not a string',
    [{ messages: [{ role: 'user', content: 7 }] }],
    /field 'messages\[0\]\.content': expected a string, got 7/,
  ],
  [
    'a line of another format than the first',
    [{ prompt: 'a', completion: 'b' }, { messages: [{ role: 'user', content: 'a' }] }],
    /:2: is a messages record, but the file's first record is promptCompletion; fix: keep one format per file/,
  ],
  [
    'a JSONL of prompts under data.format text',
    [{ prompt: 'a', completion: 'b' }],
    /:1: is a promptCompletion record, but data.format is text/,
  ],
  [
    'a repeated id',
    [
      { prompt: 'a', id: 1 },
      { prompt: 'b', id: 1 },
    ],
    /:2: field 'id': "1" is used by an earlier line/,
  ],
  ['a list instead of an object', [[1, 2]], /:1: expected a JSON object, got a list/],
];
for (const [what, lines, message] of bad) {
  test(`refused with file:line, field and fix: ${what}`, () => {
    const p = file(lines);
    const format = what.includes('format text') ? 'text' : 'auto';
    assert.throws(
      () => readTaskFile(p, { format }),
      (err: Error) => {
        assert.ok(err.message.startsWith(p), `names the file: ${err.message}`);
        assert.match(err.message, message);
        assert.match(err.message, /data\.skipBad: true/);
        return true;
      },
    );
  });
}

test('skipBad skips and counts bad lines, and a file with nothing good is still refused', () => {
  const logs: string[] = [];
  const f = readTaskFile(
    file([{ prompt: 'a', completion: 'b' }, 'oops', { prompt: 'c', completion: '' }, { prompt: 'd' }]),
    { format: 'auto', skipBad: true, log: (l) => logs.push(l) },
  );
  assert.equal(f.conversations.length, 2);
  assert.deepEqual(
    f.skipped.map((s) => s.line),
    [2, 3],
  );
  assert.match(logs.at(-1)!, /skipped 2 bad line\(s\), first at line 2: not JSON/);
  assert.throws(
    () => readTaskFile(file(['nope', '[]']), { format: 'auto', skipBad: true }),
    /no good records \(2 skipped, first at line 1/,
  );
});

test('a file larger than the read chunk is read line by line without loss', () => {
  const p = join(dir, 'big.jsonl');
  const line = JSON.stringify({ prompt: 'x'.repeat(5000), completion: 'y' });
  writeFileSync(p, Array.from({ length: 400 }, () => line).join('\n'));
  const f = readTaskFile(p, { format: 'auto' });
  assert.equal(f.conversations.length, 400);
  assert.ok(f.conversations.every((c) => c.messages[0]!.content.length === 5000));
});
