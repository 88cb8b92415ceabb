// The answer store's edge cases: a torn tail cut inside a character, bytes a failed write left
// behind, damaged manifests, settings that differ only by being absent, and repeated prompt ids.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fillAnswerStore } from './fill.ts';
import { AnswerStore, type AnswerIdentity, type StoredAnswer } from './store.ts';

const root = mkdtempSync(join(tmpdir(), 'retort-answers-edge-'));
after(() => rmSync(root, { recursive: true, force: true }));
let k = 0;
const fresh = () => join(root, `s${k++}`);
const identity: AnswerIdentity = { teacher: 't', tokenizer: 'v', settings: { n: 1 } };
const ans = (text: string): StoredAnswer => ({ text, ids: [1], finish: 'stop' });
const withOne = (dir: string, text = 'x') => {
  const s = AnswerStore.open(dir, identity);
  s.append('a', [ans(text)]);
  s.commit();
  return s;
};
type RawManifest = { identity: { settings?: unknown }; bytes?: unknown };
const editManifest = (dir: string, edit: (m: RawManifest) => void) => {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as RawManifest;
  edit(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
};

test('a torn tail cut inside a multibyte character is ignored by open and read', () => {
  const dir = fresh();
  withOne(dir, 'ʃ');
  const line = Buffer.from(JSON.stringify({ id: 'b', answers: [ans('ʃʃ')] }));
  appendFileSync(join(dir, 'answers.jsonl'), line.subarray(0, line.indexOf(Buffer.from('ʃ')) + 1));
  assert.equal(AnswerStore.read(dir).size, 1);
  assert.equal(AnswerStore.open(dir, identity).size, 1);
  assert.equal(
    readFileSync(join(dir, 'answers.jsonl')).length,
    JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).bytes,
  );
});

test('bytes a failed write left past the committed length are overwritten by the next commit', () => {
  const dir = fresh();
  const s = withOne(dir);
  appendFileSync(join(dir, 'answers.jsonl'), '{"id":"half');
  s.append('b', [ans('y')]);
  s.commit();
  assert.deepEqual(
    [...AnswerStore.read(dir).entries()].map(([id]) => id),
    ['a', 'b'],
  );
});

test('a corrupt committed record is refused with its line and byte offset', () => {
  const dir = fresh();
  const s = withOne(dir);
  s.append('b', [ans('two')]);
  s.commit();
  const file = join(dir, 'answers.jsonl');
  const at = readFileSync(file, 'utf8').indexOf('{"id":"b"');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"two"', '"twx"'));
  assert.throws(
    () => AnswerStore.read(dir),
    new RegExp(
      `answers\\.jsonl:2: a committed record fails its checksum; the store is corrupt from byte ${at} on; delete it`,
    ),
  );
});

test('a damaged manifest is refused naming the field', () => {
  const a = fresh();
  withOne(a);
  editManifest(a, (m) => delete m.identity.settings);
  assert.throws(() => AnswerStore.open(a, identity), /not a valid answer-store manifest \(identity\.settings: /);
  const b = fresh();
  withOne(b);
  editManifest(b, (m) => delete m.bytes);
  assert.throws(() => AnswerStore.read(b), /not a valid answer-store manifest \(bytes: /);
});

test('a setting that is null in one run and absent in the other is a different setting', () => {
  const dir = fresh();
  AnswerStore.open(dir, { ...identity, settings: { n: 1, seed: null } }).commit();
  assert.throws(
    () => AnswerStore.open(dir, identity),
    /settings\.seed: the store's answers were written with null, this run asks for \(not set\)/,
  );
});

test('identity errors show both values whole', () => {
  const dir = fresh();
  const t = '0123456789abcdef0123456789abcdef:aaaaaaaa';
  AnswerStore.open(dir, { ...identity, teacher: t }).commit();
  assert.throws(
    () => AnswerStore.open(dir, { ...identity, teacher: t.replace('aaaaaaaa', 'bbbbbbbb') }),
    /teacher .*:aaaaaaaa, this run's is .*:bbbbbbbb/,
  );
});

test('prompts that share an id are refused before anything is generated', async () => {
  const s = AnswerStore.open(fresh(), identity);
  let calls = 0;
  const generate = async (b: { id: string }[]) => (calls++, b.map(() => []));
  await assert.rejects(
    fillAnswerStore(s, [{ id: 'a' }, { id: 'b' }, { id: 'a' }], generate, { batch: 2 }),
    /prompts 0 and 2 share the id 'a'/,
  );
  assert.equal(calls, 0);
});
