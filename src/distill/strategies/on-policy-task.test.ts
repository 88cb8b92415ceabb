// onPolicy on task data: the student answers each row's prompt (as the chat template opens the
// answer), stopping at an end-of-turn token; only what it sampled is labelled, and the prompt is
// the data's own.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { encodeRecords, type Conversation } from '../../data/task/index.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { CharTokenizer } from '../../models/tokenizers/char-tokenizer.ts';
import { ParamStore, type HostTensor } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import { createDistillContext, type BatchEvent } from './context.ts';
import { runDistill } from './pipeline.ts';
import { cleanup, sharedExecutor, tinySettings, tmpDir } from './testing.ts';

after(cleanup);

const words = ['cat', 'dog', 'fish', 'bird', 'tree', 'house', 'water', 'apple'];
const tok = CharTokenizer.fromCorpus([...words, ...words.map((w) => w.toUpperCase()), 'user:\nassistant:\n'], {
  eosToken: '<|endoftext|>',
});
const conv = (w: string): Conversation => ({
  id: w,
  messages: [
    { role: 'user', content: w },
    { role: 'assistant', content: w.toUpperCase() },
  ],
  reference: w.toUpperCase(),
  source: { file: 't', line: 0 },
});

test('the student answers task prompts: prompt kept, sampled answer labelled, end-of-turn closes it', async () => {
  const seq = 32;
  const cfg = { vocabSize: tok.vocabSize, maxPositions: seq, dModel: 16, nLayers: 1, nHeads: 2, eosTokenId: tok.eosId };
  const rows = encodeRecords(tok, words.map(conv), { trainOn: 'lastAnswer', seq });
  const teacherModel = new Gpt2(cfg);
  const teacher = new LocalTeacher('t', teacherModel, ParamStore.init(teacherModel.params.values(), 5), tok);
  const batches: BatchEvent[] = [];
  const ctx = await createDistillContext({
    student: { model: new Gpt2(cfg), rebuild: () => new Gpt2(cfg) },
    teachers: [{ name: 't', teacher, mode: 'in-graph', rebuild: () => new Gpt2(cfg) }],
    data: {
      train: new Int32Array(0),
      tokenizer: tok,
      task: {
        train: rows.examples,
        conversations: words.map(conv),
        encode: { trainOn: 'lastAnswer', seq },
        packed: false,
        padId: tok.eosId!,
      },
    },
    settings: { executor: await sharedExecutor(), ...tinySettings(tmpDir(), 3, { seq, batch: 4 }) },
    hooks: { onBatch: (e) => batches.push(e) },
  });
  await runDistill(ctx, { kind: 'pipeline', steps: [{ kind: 'onPolicy', lambda: 1, temperature: 1 }, { kind: 'kd' }] });
  const own = batches.filter((b) => b.origin === 'student');
  assert.equal(own.length, 3);
  const eot = tok.eosId!;
  for (const b of own) {
    const feed = (name: string) => [...((b.batch[name] as HostTensor).data as BigInt64Array)].map(Number);
    const [ids, labels, mask] = [feed('input_ids'), feed('labels'), feed('attention_mask')];
    for (let r = 0; r < 4; r++) {
      const row = ids.slice(r * seq, (r + 1) * seq),
        lab = labels.slice(r * seq, (r + 1) * seq),
        m = mask.slice(r * seq, (r + 1) * seq);
      const text = tok.decode(row.filter((_, i) => m[i]));
      assert.match(text, /^user:\n[a-z]+\nassistant:\n/, `row ${r} starts with its prompt: ${JSON.stringify(text)}`);
      const promptLen = tok.encode(text.slice(0, text.indexOf('assistant:\n') + 'assistant:\n'.length)).length;
      lab.forEach((l, i) => {
        if (i < promptLen - 1 || !m[i])
          assert.equal(l, -100, `row ${r} position ${i}: prompts and padding carry no label`);
        else if (i + 1 < m.filter(Boolean).length)
          assert.equal(l, row[i + 1], `row ${r} position ${i}: the label is the next sampled token`);
      });
      const labelled = lab.filter((l) => l !== -100);
      assert.ok(labelled.length > 0, `row ${r} has a sampled answer`);
      const stopped = labelled.indexOf(eot);
      assert.ok(stopped === -1 || stopped === labelled.length - 1, 'nothing is labelled after the end-of-turn token');
    }
  }
});
