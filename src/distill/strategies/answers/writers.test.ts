// Every kind of teacher writes the same answers: a Retort model through the Generator, the same
// model exported to ONNX through step-by-step scoring, and the same model behind retort serve
// through the HTTP teacher's chat endpoint. Greedy answers agree token for token; sampled ones
// depend only on the prompt's id, its index and the seed, not on the batch they were written in.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ChatMessage } from '../../../data/task/index.ts';
import { decoderOnnxModel } from '../../../export/index.ts';
import { Gpt2 } from '../../../models/gpt2/model.ts';
import { trainByteLevelBpe } from '../../../models/tokenizers/train-byte-level-bpe.ts';
import { encodeModel } from '../../../onnx/index.ts';
import { OrtExecutor, ParamStore } from '../../../runtime/index.ts';
import { retortBackend } from '../../../serve/backend.ts';
import { startServer, type RunningServer } from '../../../serve/server.ts';
import { HttpTeacher } from '../../../teachers/http/index.ts';
import { LocalTeacher } from '../../../teachers/index.ts';
import { OnnxTeacher } from '../../../teachers/onnx/index.ts';
import type { TeacherEntry } from '../context.ts';
import { answerWriter, type AnswerSettings } from './writers.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-writers-'));
const words = ['cat', 'dog', 'fish', 'bird', 'tree', 'house', 'water', 'apple'];
const tokenizer = trainByteLevelBpe([...words, 'K AE1 T D AO1 G', 'user:\nassistant:\n'], { vocabSize: 300 });
const model = new Gpt2({
  vocabSize: tokenizer.vocabSize,
  maxPositions: 64,
  dModel: 32,
  nLayers: 2,
  nHeads: 2,
  eosTokenId: tokenizer.eosId,
});
const params = ParamStore.init(model.params.values(), 11);
const executor = new OrtExecutor();
let server: RunningServer;

before(async () => {
  writeFileSync(join(dir, 'model.onnx'), encodeModel(decoderOnnxModel(model, params)));
  server = await startServer({ backend: retortBackend({ name: 'tiny', model, params, tokenizer, threads: 1 }) });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const prompts = words
  .slice(0, 4)
  .map((w, i) => ({ id: `w${i}`, messages: [{ role: 'user', content: w }] as ChatMessage[] }));
const greedy: AnswerSettings = { n: 1, maxNewTokens: 10, temperature: 0, topP: 1, topK: 0, seed: 0 };

const writers = async () => ({
  local: answerWriter(
    { name: 'big', teacher: new LocalTeacher('big', model, params, tokenizer), mode: 'in-graph' } as TeacherEntry,
    tokenizer,
    executor,
  ),
  onnx: answerWriter(
    {
      name: 'onnx',
      teacher: await OnnxTeacher.load(join(dir, 'model.onnx'), { tokenizer, hidden: [] }),
      mode: 'fed',
    } as TeacherEntry,
    tokenizer,
    executor,
  ),
  http: answerWriter(
    {
      name: 'api',
      teacher: new HttpTeacher({ baseUrl: `${server.url}/v1`, model: 'tiny', tokenizer, env: {} }),
      mode: 'fed',
    } as TeacherEntry,
    tokenizer,
    executor,
  ),
});

test('greedy answers agree token for token: Retort model, its ONNX export by scoring, and retort serve over HTTP', async () => {
  const w = await writers();
  const local = await w.local(prompts, greedy);
  assert.ok(
    local.every((a) => a.length === 1 && a[0]!.ids.length > 0),
    'every prompt got an answer',
  );
  const onnx = await w.onnx(prompts, greedy);
  assert.deepEqual(
    onnx.map((a) => a[0]!.ids),
    local.map((a) => a[0]!.ids),
    'ONNX scoring writer',
  );
  assert.deepEqual(
    onnx.map((a) => a[0]!.finish),
    local.map((a) => a[0]!.finish),
  );
  const http = await w.http(prompts, greedy);
  assert.deepEqual(
    http.map((a) => a[0]!.text),
    local.map((a) => a[0]!.text),
    'HTTP chat writer (the server renders the same template)',
  );
  assert.deepEqual(
    http.map((a) => a[0]!.finish),
    local.map((a) => a[0]!.finish),
  );
});

test('sampled answers depend on the prompt id, its index and the seed, not on the batch', async () => {
  const w = await writers();
  const sampled: AnswerSettings = { n: 2, maxNewTokens: 8, temperature: 1, topP: 1, topK: 0, seed: 5 };
  for (const write of [w.local, w.onnx]) {
    const all = await write(prompts, sampled);
    const one = await write([prompts[2]!], sampled);
    assert.deepEqual(one[0], all[2], 'the same answers written alone');
    assert.notDeepEqual(all[2]![0]!.ids, all[2]![1]!.ids, 'two answers to one prompt differ');
    const other = await write([prompts[2]!], { ...sampled, seed: 6 });
    assert.notDeepEqual(
      other[0]!.map((a) => a.ids),
      all[2]!.map((a) => a.ids),
      'another seed, other answers',
    );
  }
});
