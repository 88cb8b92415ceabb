import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { ConfigError, configError } from './errors.ts';
import { loadRunConfig, optimizerOf, parseRunConfig, scheduleOf } from './load.ts';

const base = {
  model: { family: 'gpt2', config: { dModel: 32, nLayers: 2, nHeads: 4, maxPositions: 64 } },
  data: { dataset: 'sotu' },
  optimizer: { kind: 'adamw', lr: 3e-4 },
  steps: 100,
  checkpoint: { dir: 'runs/tiny' },
};

/** The error's lines for a config that differs from `base` by `over`. */
function errorsOf(over: Record<string, unknown>): string[] {
  try {
    parseRunConfig({ ...base, ...over }, 'train.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e.message.split('\n');
  }
  assert.fail('the config was accepted');
}

test('the example from the issue: a negative learning rate', () => {
  const [line] = errorsOf({ optimizer: { kind: 'adamw', lr: -1 } });
  assert.equal(
    line,
    'train.yaml: optimizer.lr: expected a positive number, got -1; fix: set optimizer.lr to a positive number, e.g. 0.0003 (peak learning rate, reached at the end of warmup)',
  );
});

test('each error names file, field path, expectation, value and a fix', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ steps: 1.5 }, /^train\.yaml: steps: expected an integer, got 1\.5; fix: write steps as an integer, e.g\. 1000/],
    [{ steps: undefined }, /^train\.yaml: steps: expected an integer, got nothing; fix: add steps, e.g\. 1000/],
    [
      { optimizer: { kind: 'adam', lr: 1 } },
      /^train\.yaml: optimizer\.kind: expected one of "adamw", "sgd", got "adam"; fix: did you mean "adamw"\?$/,
    ],
    [
      { stepz: 10 },
      /^train\.yaml: stepz: unknown field; fix: did you mean "steps"\? \(optimizer steps of the whole run\); the top level has task, .*, steps, /,
    ],
    [
      { schedule: { decay: 'cosin' } },
      /^train\.yaml: schedule\.decay: expected one of "cosine", "linear", "constant", got "cosin"; fix: did you mean "cosine"\?/,
    ],
    [
      { data: { dataset: 'sotu', seqLen: '128' } },
      /^train\.yaml: data\.seqLen: expected an integer, got "128"; fix: write data\.seqLen as an integer, e.g\. 128/,
    ],
    [
      { data: { dataset: 'sotu', tokenizer: { kind: 'bpe', vocabSize: 100 } } },
      /^train\.yaml: data\.tokenizer\.vocabSize: expected an integer ≥ 257, got 100/,
    ],
    [
      { model: { family: 'gpt2', config: { dModel: 32, nLayers: 2, nHeads: 4, maxPositions: 64, dropout: 2 } } },
      /^train\.yaml: model\.config\.dropout: expected a number ≤ 0\.99, got 2/,
    ],
    [
      { model: { family: 'gpt2' } },
      /^train\.yaml: model\.config: expected config \(a fresh model\) or hfDir \(a Hugging Face folder\); fix: add one of them$/,
    ],
    [
      { eval: { monitor: 'ppl' } },
      /^train\.yaml: eval\.monitor: expected loss, accuracy, perplexity or term\.\{name\} \(a loss term\), got "ppl"/,
    ],
    [
      { data: { dataset: 'no-such-file.txt' } },
      /^train\.yaml: data\.dataset: expected 'sotu', 'spam', or the path of a text file or a \.jsonl file of task records, got "no-such-file\.txt"; fix: no file at /,
    ],
  ];
  for (const [over, want] of cases) {
    const lines = errorsOf(over);
    assert.ok(
      lines.some((l) => want.test(l)),
      `for ${JSON.stringify(over)}:\n${lines.join('\n')}\ndoes not match ${want}`,
    );
  }
});

test('model.family llama: a Llama, Qwen2 or Mistral config (config.dialect) validates; its mistakes read like the rest', () => {
  const llama = { dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, mlpHidden: 128, maxPositions: 64 };
  for (const dialect of ['llama', 'qwen2', 'mistral']) {
    const c = parseRunConfig({ ...base, model: { family: 'llama', config: { ...llama, dialect } } }, 'train.yaml');
    assert.deepEqual(c.model, { family: 'llama', config: { ...llama, dialect } });
  }
  const at = (config: Record<string, unknown>) =>
    errorsOf({ model: { family: 'llama', config: { ...llama, ...config } } });
  const { mlpHidden: _m, ...noMlp } = llama;
  assert.deepEqual(errorsOf({ model: { family: 'llama', config: { ...noMlp, mlpHiden: 128 } } }), [
    'train.yaml: model.config.mlpHiden: unknown field of llama\'s config; fix: did you mean "mlpHidden"?',
  ]);
  assert.deepEqual(at({ nKvHead: 2 }), [
    'train.yaml: model.config.nKvHead: unknown field of llama\'s config; fix: did you mean "nKvHeads"?',
  ]);
  assert.deepEqual(at({ dialect: 'qwen' }), [
    'train.yaml: model.config.dialect: expected one of "llama", "qwen2", "mistral", got "qwen"; fix: did you mean "qwen2"?',
  ]);
  assert.match(at({ nKvHeads: 3 })[0]!, /^train\.yaml: model\.config: nHeads must be a multiple of nKvHeads/);
  // A config its dialect cannot write as config.json is refused now rather than when the trained model is saved.
  assert.deepEqual(at({ dialect: 'mistral', qkvBias: true }), [
    "train.yaml: model.config: dialect 'mistral' cannot express qkvBias=true, oBias=false (llama: both equal, qwen2: qkv only, mistral: none), so the trained model could not be saved as a Hugging Face folder; fix: pick the dialect that matches the biases",
  ]);
  // The dialect is the Llama config's own field; written beside the family it is read as that field.
  assert.equal(
    (
      parseRunConfig({ ...base, model: { family: 'llama', dialect: 'qwen2', config: llama } }, 'train.yaml').model
        .config as { dialect: string }
    ).dialect,
    'qwen2',
  );
  assert.deepEqual(
    parseRunConfig({ ...base, model: { family: 'llama', hfDir: 'models/qwen' } }, 'train.yaml').model.family,
    'llama',
  );
});

test('a misspelled field of a gpt2 config is an error with a "did you mean", not an ignored setting', () => {
  const gpt2 = { dModel: 32, nLayers: 2, nHeads: 4, maxPositions: 64 };
  assert.deepEqual(errorsOf({ model: { family: 'gpt2', config: { ...gpt2, dropuot: 0.1 } } }), [
    'train.yaml: model.config.dropuot: unknown field of gpt2\'s config; fix: did you mean "dropout"?',
  ]);
  const { nLayers: _n, ...noLayers } = gpt2;
  assert.deepEqual(errorsOf({ model: { family: 'gpt2', config: { ...noLayers, nLayer: 2 } } }), [
    'train.yaml: model.config.nLayer: unknown field of gpt2\'s config; fix: did you mean "nLayers"?',
  ]);
  assert.match(
    errorsOf({ model: { family: 'gpt2', config: { ...gpt2, dialect: 'qwen2' } } })[0]!,
    /^train\.yaml: model\.config\.dialect: unknown field of gpt2's config; fix: remove it \(gpt2's config has vocabSize, maxPositions, dModel, nLayers, nHeads,/,
  );
});

test('all problems are reported at once, one line each, with structured issues', () => {
  try {
    parseRunConfig({ ...base, steps: -5, seed: 'x' }, 'run.json');
    assert.fail('accepted');
  } catch (e) {
    const err = e as ConfigError;
    assert.deepEqual(err.issues.map((i) => i.path).sort(), ['seed', 'steps']);
    assert.equal(err.issues.find((i) => i.path === 'steps')!.received, '-5');
    assert.equal(err.file, 'run.json');
  }
});

test('defaults fill what the file leaves out; paths resolve against its folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'retort-config-'));
  writeFileSync(join(dir, 'corpus.txt'), 'hello');
  const file = join(dir, 'train.json');
  writeFileSync(file, JSON.stringify({ ...base, data: { dataset: 'corpus.txt' } }));
  const c = loadRunConfig(file);
  assert.equal(c.data.dataset, join(dir, 'corpus.txt'));
  assert.equal(c.checkpoint.dir, join(dir, 'runs/tiny'));
  assert.deepEqual(c.data.tokenizer, { kind: 'char' });
  assert.equal(c.accumulate, 1);
  assert.deepEqual(c.optimizer, { kind: 'adamw', lr: 3e-4, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
  assert.deepEqual(optimizerOf(c), { kind: 'adamw', betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
  assert.deepEqual(scheduleOf(c), { lr: 3e-4, totalSteps: 100, warmupSteps: 0, decay: 'cosine', minLrRatio: 0.1 });
});

test('YAML files load, and their syntax errors give the line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'retort-config-'));
  const good = join(dir, 'train.yaml');
  writeFileSync(
    good,
    [
      '# a tiny run',
      'model: {family: gpt2, config: {dModel: 32, nLayers: 2, nHeads: 4, maxPositions: 64}}',
      'data:',
      '  dataset: sotu',
      '  validation: {afterYear: 1990}',
      'optimizer: {kind: sgd, lr: 0.1}',
      'steps: 50',
      'checkpoint: {dir: out}',
    ].join('\n'),
  );
  const c = loadRunConfig(good);
  assert.equal(c.optimizer.kind, 'sgd');
  assert.equal(c.data.validation.afterYear, 1990);
  assert.equal(c.checkpoint.dir, join(dir, 'out'));

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'steps: 10\nmodel: {family: gpt2\n');
  assert.throws(() => loadRunConfig(bad), /^ConfigError: bad\.yaml: line \d+, column \d+: not valid YAML/);
  const badLr = join(dir, 'lr.yaml');
  writeFileSync(
    badLr,
    'model: {family: gpt2, hfDir: m}\ndata: {dataset: sotu}\noptimizer: {kind: adamw, lr: -1}\nsteps: 10\ncheckpoint: {dir: out}\n',
  );
  assert.throws(
    () => loadRunConfig(badLr),
    /^ConfigError: lr\.yaml: optimizer\.lr: expected a positive number, got -1/,
  );
});

test('JSON syntax errors give line and column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'retort-config-'));
  const file = join(dir, 'train.json');
  writeFileSync(file, '{\n  "steps": 10,\n}\n');
  assert.throws(() => loadRunConfig(file), /train\.json: line 3, column 1: not valid JSON/);
});

test('the distill section passes through, or is checked by the schema the distillation engine supplies', () => {
  const passthrough = parseRunConfig({ ...base, distill: { anything: 1 } }, 'train.yaml');
  assert.deepEqual(passthrough.distill, { anything: 1 });
  const distill = z
    .object({ temperature: z.number().positive().meta({ description: 'Softmax temperature', example: 2 }) })
    .strict();
  assert.deepEqual(parseRunConfig({ ...base, distill: { temperature: 2 } }, 'train.yaml', { distill }).distill, {
    temperature: 2,
  });
  assert.throws(
    () => parseRunConfig({ ...base, distill: { temperature: -2 } }, 'train.yaml', { distill }),
    /^ConfigError: train\.yaml: distill\.temperature: expected a positive number, got -2; fix: set distill\.temperature to a positive number, e\.g\. 2 \(softmax temperature\)$/,
  );
});

test('a typo inside lists, unions and wrappers keeps the field list, its description and the "did you mean"', () => {
  const doc = <T extends z.ZodType>(s: T, description: string, example?: unknown) =>
    s.meta({ description, ...(example !== undefined && { example }) });
  const source = z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('dir'), hfDir: doc(z.string(), 'Folder with config.json', 'models/t') }).strict(),
    z
      .object({
        kind: z.literal('url'),
        baseUrl: doc(z.string(), 'The API root'),
        model: doc(z.string(), 'Model name'),
      })
      .strict(),
  ]);
  const weight = z.union([
    z.number().nonnegative(),
    z
      .object({
        kind: z.literal('linear'),
        from: doc(z.number(), 'Weight at the start'),
        to: doc(z.number(), 'Weight at the end', 0.5),
      })
      .strict(),
  ]);
  const schema = z
    .object({
      teachers: doc(
        z
          .array(z.object({ name: z.string(), source: doc(source, 'Where the teacher comes from') }).strict())
          .default([]),
        'The teachers',
      ),
      terms: z
        .array(z.object({ weight: doc(weight.optional(), 'Weight of the term') }).strict())
        .nullable()
        .default(null),
      piped: z
        .object({ every: doc(z.number().int(), 'How often', 10) })
        .strict()
        .pipe(z.object({ every: z.number() }))
        .optional(),
    })
    .strict();
  const messages = (value: unknown) => {
    const r = schema.safeParse(value, { reportInput: true });
    assert.ok(!r.success, 'accepted');
    return configError('run.yaml', schema, r.error, ['distill'], value).message.split('\n');
  };
  // The issue's example: in a list item, a union option picked by its kind.
  assert.deepEqual(messages({ teachers: [{ name: 'a', source: { kind: 'dir', hfdir: 'x' } }] }), [
    'run.yaml: distill.teachers.0.source.hfdir: unknown field; fix: did you mean "hfDir"? (folder with config.json); distill.teachers.0.source (where the teacher comes from) has kind, hfDir',
  ]);
  // The other option's fields when the kind says so; no "missing baseUrl" beside the "did you mean".
  assert.deepEqual(messages({ teachers: [{ name: 'a', source: { kind: 'url', baseURL: 'x', model: 'm' } }] }), [
    'run.yaml: distill.teachers.0.source.baseURL: unknown field; fix: did you mean "baseUrl"? (the API root); distill.teachers.0.source (where the teacher comes from) has kind, baseUrl, model',
  ]);
  assert.deepEqual(
    messages({ teachers: [{ name: 'a', source: { kind: 'url', baseUrl: 'x', model: 'm', zzzzzz: 1 } }] }),
    [
      'run.yaml: distill.teachers.0.source.zzzzzz: unknown field; fix: remove it; distill.teachers.0.source (where the teacher comes from) has kind, baseUrl, model',
    ],
  );
  // A plain union: the option the value was meant for speaks (its description and example too).
  assert.deepEqual(messages({ terms: [{ weight: { kind: 'linear', from: 1, too: 0.5 } }] }), [
    'run.yaml: distill.terms.0.weight.too: unknown field; fix: did you mean "to"? (weight at the end); distill.terms.0.weight (weight of the term) has kind, from, to',
  ]);
  assert.deepEqual(messages({ terms: [{ weight: { kind: 'linear', to: 0.5 } }] }), [
    'run.yaml: distill.terms.0.weight.from: expected a number, got nothing; fix: add distill.terms.0.weight.from (weight at the start)',
  ]);
  assert.deepEqual(messages({ terms: [{ weight: 'high' }] }), [
    'run.yaml: distill.terms.0.weight: expected a number or {kind: "linear", from, to}, got "high"; fix: write distill.terms.0.weight as a number or {kind: "linear", from, to} (weight of the term)',
  ]);
  // Through a pipe's input schema.
  assert.deepEqual(messages({ piped: { evry: 3 } }), [
    'run.yaml: distill.piped.evry: unknown field; fix: did you mean "every"? (how often); distill.piped has every',
  ]);
  // The run config's own discriminated union (data.tokenizer), at the top level of parsing.
  assert.deepEqual(errorsOf({ data: { dataset: 'sotu', tokenizer: { kind: 'bpe', vocabsize: 600 } } }), [
    'train.yaml: data.tokenizer.vocabsize: unknown field; fix: did you mean "vocabSize"? (vocabulary size: the 256 bytes plus the merges learned); data.tokenizer (how text becomes token ids) has kind, vocabSize',
  ]);
});
