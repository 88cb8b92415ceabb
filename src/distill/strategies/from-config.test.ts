import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { saveHfModel } from '../../models/hf/index.ts';
import { loadRunConfig } from '../config/index.ts';
import { createDistillContext } from './context.ts';
import { distillSectionSchema, resolveTeachers, settingsFromRunConfig } from './from-config.ts';
import { runDistill } from './pipeline.ts';
import type { Teacher } from '../../teachers/index.ts';
import { cleanup, randomTeacher, sharedExecutor, tinyContext, tinyText, tmpDir } from './testing.ts';

after(cleanup);

const yaml = (distill: string) => `
model: { family: gpt2, config: { dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 32 } }
data: { dataset: sotu, seqLen: 32, batchSize: 4 }
optimizer: { kind: adamw, lr: 0.01, weightDecay: 0 }
steps: 4
eval: { every: 0, batches: 2 }
checkpoint: { dir: run }
seed: 1
threads: 1
distill:
${distill}
`;

test('a run config file: teachers from Hugging Face folders, a pipeline as the strategy', async () => {
  const dir = tmpDir();
  const teacher = randomTeacher('big', 2);
  saveHfModel(join(dir, 'teacher'), teacher.local.model, teacher.local.params);
  writeFileSync(
    join(dir, 'train.yaml'),
    yaml(`
  teachers:
    - { name: big, source: { kind: retort, hfDir: teacher } }
  strategy:
    kind: pipeline
    steps:
      - { kind: onPolicy, lambda: 0.5, promptTokens: 8 }
      - { kind: kd }
`),
  );
  const config = loadRunConfig(join(dir, 'train.yaml'), { distill: distillSectionSchema });
  const teachers = await resolveTeachers(config.distill!.teachers, { tokenizer: tinyText().tokenizer, baseDir: dir });
  assert.deepEqual(
    teachers.map((t) => [t.name, t.mode, t.teacher.kind]),
    [['big', 'in-graph', 'retort']],
  );
  const student = (await tinyContext(dir, 1)).student;
  const ctx = await createDistillContext({
    student,
    teachers,
    data: tinyText(),
    settings: { ...settingsFromRunConfig(config), executor: await sharedExecutor() },
  });
  assert.equal(ctx.settings.dir, join(dir, 'run'));
  const r = await runDistill(ctx, config.distill!.strategy);
  assert.deepEqual(
    r.reports.map((x) => x.stage),
    ['1-onPolicy', '2-kd'],
  );
  assert.equal(r.reports[1]!.summary!.step, 4);
});

test("balance: auto in a run config rescales the terms' weights, and the weights used are logged", async () => {
  const dir = tmpDir();
  const teacher = randomTeacher('big', 2);
  saveHfModel(join(dir, 'teacher'), teacher.local.model, teacher.local.params);
  writeFileSync(
    join(dir, 'train.yaml'),
    `balance: auto\n${yaml(`
  teachers: [{ name: big, source: { kind: retort, hfDir: teacher } }]
  strategy:
    kind: kd
    terms:
      - { name: kd, loss: { kind: logits, alpha: 0.5, temperature: 2 } }
      - { name: hid, weight: 0.5, loss: { kind: hidden, metric: mse, projection: linear } }
`)}`,
  );
  const config = loadRunConfig(join(dir, 'train.yaml'), { distill: distillSectionSchema });
  const settings = settingsFromRunConfig(config);
  assert.deepEqual(settings.balance, { mode: 'auto' });
  const teachers = await resolveTeachers(config.distill!.teachers, { tokenizer: tinyText().tokenizer, baseDir: dir });
  const student = (await tinyContext(dir, 1)).student;
  const weights: Record<string, number>[] = [];
  const ctx = await createDistillContext({
    student,
    teachers,
    data: tinyText(),
    settings: { ...settings, executor: await sharedExecutor() },
    hooks: { onTrainerEvent: (_stage, e) => void (e.type === 'step' && weights.push(e.record.weights)) },
  });
  await runDistill(ctx, config.distill!.strategy);
  assert.deepEqual(weights[0], { kd: 1, hid: 0.5 }, 'configured weights before any term was seen');
  for (const w of weights.slice(1))
    assert.ok(w.kd !== 1 && w.hid !== 0.5, `later steps divide by the running means: ${JSON.stringify(w)}`);
  const logged = readFileSync(join(dir, 'run', '1-kd', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.type === 'step');
  assert.deepEqual(
    logged.map((r) => r.weights),
    weights,
  );
});

test('errors inside the distill section name the file, the field and a fix', () => {
  const dir = tmpDir();
  const write = (distill: string) => (
    writeFileSync(join(dir, 'train.yaml'), yaml(distill)),
    () => loadRunConfig(join(dir, 'train.yaml'), { distill: distillSectionSchema })
  );
  assert.throws(
    write(`
  strategy: { kind: pipeline, steps: [ { kind: offline, topk: 8 }, { kind: kd } ] }
`),
    /train\.yaml: distill\.strategy\.steps\.0\.topk: unknown field; fix: did you mean "topK"\? \(.+\); distill\.strategy\.steps\.0 has kind, .*topK/,
  );
  assert.throws(
    write(`
  teachers: [ { name: big, source: { kind: retort } } ]
  strategy: { kind: kd }
`),
    /train\.yaml: distill\.teachers\.0\.source\.hfDir: expected text, got nothing; fix: add distill\.teachers\.0\.source\.hfDir/,
  );
});

test('ONNX and HTTP teacher sources are strict: a misspelled option is refused when the config loads, with a did-you-mean', () => {
  const dir = tmpDir();
  const load = (source: string) => {
    writeFileSync(
      join(dir, 'train.yaml'),
      yaml(`
  teachers: [ { name: api, source: ${source} } ]
  strategy: { kind: kd }
`),
    );
    return () => loadRunConfig(join(dir, 'train.yaml'), { distill: distillSectionSchema });
  };
  assert.throws(
    load('{ kind: http, baseUrl: "http://127.0.0.1:8000/v1", modle: gpt }'),
    (e: Error) =>
      e.message ===
      'train.yaml: distill.teachers.0.source.modle: unknown field; fix: did you mean "model"? (the model name the API serves); distill.teachers.0.source (where the teacher comes from) has kind, baseUrl, model, tokenIds, vocabSize, version, concurrency, maxRetries, retryBaseMs, retryMaxMs, maxRetryAfterMs, timeoutMs, budget, cacheDir, credentialsFile',
  );
  assert.throws(
    load('{ kind: http, baseURL: "http://127.0.0.1:8000/v1", model: gpt }'),
    /distill\.teachers\.0\.source\.baseURL: unknown field; fix: did you mean "baseUrl"\? \(the API root\)/,
  );
  assert.throws(
    load('{ kind: http, baseUrl: "http://x/v1", model: gpt, budget: { maxRequest: 5 } }'),
    /distill\.teachers\.0\.source\.budget\.maxRequest: unknown field; fix: did you mean "maxRequests"\?/,
  );
  assert.throws(
    load('{ kind: onnx, path: t.onnx, logitName: out }'),
    /distill\.teachers\.0\.source\.logitName: unknown field; fix: did you mean "logitsName"\? \(the graph output holding the logits; default 'logits'\); distill\.teachers\.0\.source \(where the teacher comes from\) has kind, path, tokenizer, hidden, attentions, logitsName, config, threads$/,
  );
  assert.throws(
    load('{ kind: onnx, path: t.onnx, threads: 0 }'),
    /distill\.teachers\.0\.source\.threads: expected a positive integer, got 0/,
  );
  assert.throws(
    load('{ kind: onnx }'),
    /distill\.teachers\.0\.source\.path: expected text, got nothing; fix: add distill\.teachers\.0\.source\.path, e\.g\. "models\/teacher\/onnx\/model\.onnx" \(the \.onnx file\)/,
  );
  const ok = load(
    '{ kind: http, baseUrl: "http://127.0.0.1:8000/v1", model: gpt, cacheDir: cache, concurrency: 8, budget: { maxRequests: 10 } }',
  )();
  assert.deepEqual(ok.distill!.teachers[0]!.source, {
    kind: 'http',
    baseUrl: 'http://127.0.0.1:8000/v1',
    model: 'gpt',
    cacheDir: 'cache',
    concurrency: 8,
    budget: { maxRequests: 10 },
  });
});

test("a fed teacher's loader gets its source with relative paths resolved against the config's folder", async () => {
  const seen: Record<string, unknown>[] = [];
  const fake = {
    name: 'api',
    kind: 'http',
    fingerprint: 'f',
    info: { vocabSize: 4 },
    capabilities: { logits: false, topK: true, hidden: false, attentions: false },
  } as unknown as Teacher;
  const teachers = await resolveTeachers(
    [
      {
        name: 'api',
        source: {
          kind: 'http',
          baseUrl: 'http://x/v1',
          model: 'm',
          cacheDir: 'cache',
          credentialsFile: '/abs/key.json',
        },
      },
    ],
    { resolvers: { http: (src) => (seen.push(src), fake) }, baseDir: '/runs/cfg' },
  );
  assert.equal(teachers[0]!.mode, 'fed');
  assert.deepEqual(seen, [
    { kind: 'http', baseUrl: 'http://x/v1', model: 'm', cacheDir: '/runs/cfg/cache', credentialsFile: '/abs/key.json' },
  ]);
});
