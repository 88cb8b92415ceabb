import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crossEntropy } from '../../../graph/index.ts';
import { SequenceClassifier } from '../../../models/classifier/index.ts';
import { defaultAdamW } from '../../../optim/index.ts';
import { ParamStore, type HostTensor } from '../../../runtime/index.ts';
import { loadSotu } from '../../../data/sotu.ts';
import { Trainer, type StepRecord } from '../../trainer/index.ts';
import { cleanup, sharedExecutor, tinyText, tmpDir } from '../testing.ts';
import {
  classifierSource,
  classifierTeacher,
  labelWithClassifier,
  promptForLabels,
  type LabelledText,
} from './classifier.ts';
import { isGeneratedRow } from './mix.ts';

after(cleanup);

const SEQ = 32;
const tok = () => tinyText().tokenizer;
const sentences = () =>
  loadSotu()[0]!
    .text.split(/(?<=\.)\s+/)
    .filter((s) => s.length > 20)
    .slice(0, 40);
const body = () => ({
  family: 'gpt2' as const,
  config: { vocabSize: tok().vocabSize, maxPositions: SEQ, dModel: 16, nLayers: 1, nHeads: 2 },
});

async function randomClassifier(seed: number) {
  const model = new SequenceClassifier({ body: body(), numLabels: 2 });
  const params = ParamStore.init(model.params.values(), seed);
  for (const v of params.values.values())
    if (v.shape.length === 2) (v.data as Float32Array).forEach((x, i, a) => (a[i] = x * 20));
  return {
    model,
    params,
    classify: classifierTeacher(model, params, tok(), { seq: SEQ, executor: await sharedExecutor() }),
  };
}

test('a classifier teacher labels perturbed texts; exact repeats are dropped', async () => {
  const teacher = await randomClassifier(1);
  const set = await labelWithClassifier({
    dir: join(tmpDir(), 'relabel'),
    classify: teacher.classify,
    teacher: 'clf',
    texts: sentences(),
    perturb: { drop: 0.15, swap: 0.1 },
    count: 12,
    batch: 4,
  });
  assert.equal(set.examples.length, 12);
  const again = await teacher.classify(set.examples.map((e) => e.text));
  set.examples.forEach((e, i) => {
    assert.equal(e.label, again[i]![0]! > again[i]![1]! ? 0 : 1, `example ${i}: the teacher's argmax`);
    assert.ok(Math.abs(e.probs![0]! + e.probs![1]! - 1) < 1e-5);
  });
  assert.ok(new Set(set.examples.map((e) => e.label)).size === 2, 'both classes occur');
  assert.ok(
    set.examples.some((e) => !sentences().includes(e.text)),
    'texts were perturbed',
  );

  // Without noise, five texts can only make five examples: the rest are exact repeats.
  const five = await labelWithClassifier({
    dir: join(tmpDir(), 'plain'),
    classify: teacher.classify,
    teacher: 'clf',
    texts: sentences().slice(0, 5),
    count: 8,
    maxAttempts: 30,
    batch: 6,
  });
  assert.equal(five.examples.length, 5);
  assert.equal(five.manifest.dropped.exact, 30 - 5);
  assert.equal(five.manifest.complete, true);
});

test("an LM teacher writes texts for each label from a template; the label is the prompt's", async () => {
  const prompts: string[] = [];
  const set = await promptForLabels({
    dir: join(tmpDir(), 'prompted'),
    teacher: 'lm',
    tokenizer: tok(),
    labels: ['ham', 'spam'],
    template: 'Write a {label} email:\n',
    count: 6,
    batch: 4,
    maxNewTokens: 20,
    generate: async (ps, o) =>
      ps.map((p, r) => {
        prompts.push(tok().decode(p));
        // Attempts 0 and 2 write the same text: the second is dropped.
        const attempt = o.seed + r;
        return tok().encode(
          attempt === 2
            ? 'a letter about the treaty'
            : attempt === 0
              ? 'A letter about the  treaty'
              : `note number ${attempt} on ${attempt % 2 ? 'spam' : 'ham'}`,
        );
      }),
  });
  assert.deepEqual(prompts.slice(0, 2), ['Write a ham email:\n', 'Write a spam email:\n']);
  assert.deepEqual(
    set.examples.map((e) => e.label),
    [0, 1, 1, 0, 1, 0],
  );
  assert.equal(set.manifest.dropped.exact, 1);
  for (const e of set.examples.slice(1)) assert.match(e.text, e.label === 1 ? /spam$/ : /ham$/);
});

test('generated examples are mixed into classifier batches at the ratio, and a student trains on them', async () => {
  const original: LabelledText[] = sentences()
    .slice(0, 20)
    .map((text, i) => ({ text, label: i % 2 }));
  const generated: LabelledText[] = [
    'peace and commerce',
    'the army and navy',
    'taxes on whiskey',
    'indian treaties',
  ].map((text, i) => ({ text, label: i % 2 }));
  const source = classifierSource(original, generated, { batch: 4, seq: SEQ, tokenizer: tok(), ratio: 0.25, seed: 3 });
  const stream = source.open();
  let fromGenerated = 0;
  for (let b = 0; b < 10; b++) {
    const x = stream.next();
    const ids = x.input_ids as HostTensor,
      mask = x.attention_mask as HostTensor;
    for (let r = 0; r < 4; r++) {
      const n = Array.from((mask.data as BigInt64Array).subarray(r * SEQ, (r + 1) * SEQ)).filter(
        (m) => m === 1n,
      ).length;
      const text = tok().decode(Array.from((ids.data as BigInt64Array).subarray(r * SEQ, r * SEQ + n), Number));
      const pool = isGeneratedRow(b * 4 + r, 0.25) ? generated : original;
      assert.ok(
        pool.some((e) => e.text.startsWith(text) && e.label === Number(x.labels!.data[r])),
        `batch ${b} row ${r}: ${JSON.stringify(text)}`,
      );
      if (pool === generated) fromGenerated++;
    }
  }
  assert.equal(fromGenerated, 10);

  const student = new SequenceClassifier({ body: body(), numLabels: 2 });
  const records: StepRecord[] = [];
  const trainer = await Trainer.create({
    model: (inputs, { train }) => student.forward(inputs.input_ids!, { mask: inputs.attention_mask, train }),
    loss: (out, inputs) => ({ total: crossEntropy(out.logits, inputs.labels!), terms: {} }),
    data: source,
    dir: tmpDir(),
    steps: 30,
    schedule: { lr: 1e-2, totalSteps: 30, decay: 'constant' },
    optimizer: defaultAdamW({ weightDecay: 0 }),
    progress: false,
    executor: await sharedExecutor(),
    threads: 1,
    onEvent: (e) => void (e.type === 'step' && records.push(e.record)),
  });
  await trainer.run();
  const mean = (xs: StepRecord[]) => xs.reduce((s, r) => s + r.loss, 0) / xs.length;
  assert.ok(
    mean(records.slice(-5)) < mean(records.slice(0, 5)),
    `classifier CE ${mean(records.slice(0, 5))} → ${mean(records.slice(-5))}`,
  );
});
