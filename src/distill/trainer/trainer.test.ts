import assert from 'node:assert/strict';
import { existsSync, readFileSync, truncateSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { defaultExecutor, type Executor } from '../../runtime/index.ts';
import { MetricsLog } from './metrics-log.ts';
import { tinyCorpus, tinyOptions } from './testing/tiny-run.ts';
import { tmpDirs } from './testing/tmp-dirs.ts';
import { Trainer, TrainingDivergedError, type StepRecord } from './trainer.ts';

// One executor for the file: every trainer here traces the same graphs, so sessions are compiled once.
const executor = await defaultExecutor();
const tmp = tmpDirs('retort-trainer-');
const STEPS = 20;

const stepLosses = (dir: string) =>
  MetricsLog.read(join(dir, 'metrics.jsonl'))
    .filter((r) => r.type === 'step')
    .map((r) => [r.step, r.loss]);
const evalLosses = (dir: string) =>
  MetricsLog.read(join(dir, 'metrics.jsonl'))
    .filter((r) => r.type === 'eval')
    .map((r) => [r.step, r.loss, r.accuracy]);

let straight: Promise<{ dir: string; params: Map<string, Float32Array> }> | undefined;
/** The uninterrupted 20-step run every resume is compared with. */
function straightRun() {
  return (straight ??= (async () => {
    const dir = tmp();
    const t = await Trainer.create(tinyOptions(dir, STEPS, { executor }));
    await t.run();
    return { dir, params: new Map([...t.params.values].map(([k, v]) => [k, v.data as Float32Array])) };
  })());
}

test('a run crashed at step 13 and resumed from ckpt-10 reproduces the uninterrupted run bit for bit', async () => {
  const ref = await straightRun();
  const dir = tmp();
  const crashing = await Trainer.create(
    tinyOptions(dir, STEPS, {
      executor,
      onEvent: (e) => {
        if (e.type === 'step' && e.record.step === 13) throw new Error('simulated crash');
      },
    }),
  );
  await assert.rejects(crashing.run(), /simulated crash/);
  // The crashed trainer is dropped; a new one (new model objects, new programs) takes over from disk.
  const resumed = await Trainer.create(tinyOptions(dir, STEPS, { executor }));
  assert.equal(await resumed.resume(), 10);
  await resumed.run();

  const want = stepLosses(ref.dir),
    got = stepLosses(dir);
  assert.equal(want.length, STEPS);
  assert.deepEqual(got, want, 'per-step losses (steps 11-13 run twice, logged once)');
  assert.deepEqual(evalLosses(dir), evalLosses(ref.dir));
  for (const [name, data] of ref.params) assert.deepEqual(resumed.params.get(name).data, data, `parameter ${name}`);
});

test('a NaN loss stops the run naming the step and the last good checkpoint', async () => {
  const dir = tmp();
  const t = await Trainer.create(
    tinyOptions(dir, STEPS, { executor, lossWeights: (s) => ({ ce: s === 7 ? NaN : 1 }) }),
  );
  await assert.rejects(t.run(), (e: Error) => {
    assert.ok(e instanceof TrainingDivergedError);
    assert.match(e.message, /^training diverged at step 8: the loss is NaN/);
    assert.ok(e.message.includes(`The last good checkpoint is ${join(dir, 'ckpt-5')}`), e.message);
    return true;
  });
  assert.equal(t.step, 7, 'the bad update was not applied');
  const last = MetricsLog.read(join(dir, 'metrics.jsonl')).at(-1)!;
  assert.equal(last.type, 'error');
  assert.equal(last.step, 8);
});

test('a NaN before any checkpoint says so', async () => {
  const t = await Trainer.create(
    tinyOptions(tmp(), STEPS, { executor, lossWeights: (s) => ({ ce: s === 1 ? Infinity : 1 }) }),
  );
  await assert.rejects(t.run(), /at step 2: .*No checkpoint was saved before this step/);
});

test('loss-term weights change per step without recompiling', async () => {
  let compiles = 0;
  const counting: Executor = { name: 'counting', compile: (o, c) => (compiles++, executor.compile(o, c)) };
  const records: StepRecord[] = [];
  const t = await Trainer.create(
    tinyOptions(tmp(), 6, {
      executor: counting,
      evalData: undefined,
      lossWeights: (s) => ({ ce: s < 3 ? 1 : 0.5 }),
      onEvent: (e) => void (e.type === 'step' && records.push(e.record)),
    }),
  );
  await t.run();
  assert.equal(compiles, 1, 'one training program for the whole run');
  assert.deepEqual(
    records.map((r) => r.weights.ce),
    [1, 1, 1, 0.5, 0.5, 0.5],
  );
  for (const r of records)
    assert.ok(
      Math.abs(r.loss - r.weights.ce! * r.terms.ce!) < 1e-5,
      `step ${r.step}: loss ${r.loss} = ${r.weights.ce} × ce ${r.terms.ce}`,
    );
});

test('a missing loss weight is named', async () => {
  const t = await Trainer.create(tinyOptions(tmp(), 3, { executor, lossWeights: () => ({ kd: 1 }) }));
  await assert.rejects(t.run(), /loss weight 'ce' has no value at step 0 \(lossWeights returned \{kd\}\)/);
});

test('early stopping after `patience` evaluations without improvement; best checkpoint kept', async () => {
  const dir = tmp();
  const t = await Trainer.create(
    tinyOptions(dir, STEPS, {
      executor,
      monitor: { metric: 'perplexity', patience: 2, minDelta: 1e9 },
      checkpoint: { every: 0, keep: 1 },
    }),
  );
  const summary = await t.run();
  assert.equal(summary.stoppedEarly, true);
  assert.equal(
    summary.step,
    15,
    'evaluations at 5 (best), 10 and 15 (no improvement by more than minDelta): stop after the second',
  );
  assert.equal(summary.best?.step, 5);
  assert.equal(summary.best?.name, 'perplexity');
  assert.equal(readFileSync(join(dir, 'best'), 'utf8').trim(), 'ckpt-5');
  assert.equal(readFileSync(join(dir, 'latest'), 'utf8').trim(), 'ckpt-15');
  assert.ok(existsSync(join(dir, 'ckpt-5')) && existsSync(join(dir, 'ckpt-15')));
  const stop = MetricsLog.read(join(dir, 'metrics.jsonl')).at(-1)!;
  assert.equal(stop.type, 'stop');
});

test('evaluation reports loss, accuracy and perplexity = exp(mean token NLL)', async () => {
  const t = await Trainer.create(tinyOptions(tmp(), STEPS, { executor }));
  const r = await t.evaluate();
  assert.equal(r.batches, 4);
  assert.equal(r.tokens, 4 * 4 * 32);
  assert.ok(
    Math.abs(Math.log(r.perplexity!) - r.terms.ce!) < 1e-5,
    `ln ppl ${Math.log(r.perplexity!)} vs mean ce ${r.terms.ce}`,
  );
  assert.ok(r.accuracy! >= 0 && r.accuracy! <= 1);
  assert.ok(
    Math.abs(r.loss - Math.log(tinyCorpus().vocabSize)) < 0.5,
    `an untrained model's loss ${r.loss} is near ln(vocab)`,
  );
});

test('a corrupt latest checkpoint is refused, naming the file, and the trainer is left untouched', async () => {
  const ref = await straightRun();
  const dir = tmp();
  const a = await Trainer.create(
    tinyOptions(dir, STEPS, {
      executor,
      onEvent: (e) => {
        if (e.type === 'step' && e.record.step === 11) throw new Error('stop');
      },
    }),
  );
  await assert.rejects(a.run());
  const file = join(dir, 'ckpt-10', 'model.safetensors');
  truncateSync(file, 1000);
  const b = await Trainer.create(tinyOptions(dir, STEPS, { executor }));
  await assert.rejects(
    b.resume(),
    (e: Error) => e.message.startsWith(`${file}: is 1000 bytes but the manifest recorded`) && /ckpt-5/.test(e.message),
  );
  assert.equal(b.step, 0);
  // The earlier checkpoint still resumes, and the run still matches the uninterrupted one.
  assert.equal(await b.resume(join(dir, 'ckpt-5')), 5);
  await b.run();
  assert.deepEqual(stepLosses(dir), stepLosses(ref.dir));
});

test('resuming under another configuration is refused unless allowed; a fresh run will not overwrite checkpoints', async () => {
  const dir = tmp();
  const a = await Trainer.create(tinyOptions(dir, 5, { executor, evalData: undefined }));
  await a.run();
  const b = await Trainer.create(tinyOptions(dir, 5, { executor, evalData: undefined, clipNorm: 0.5 }));
  await assert.rejects(
    b.resume(),
    /manifest\.json: written by a run with another configuration .* pass allowConfigChange: true/,
  );
  assert.equal(await b.resume(dir, { allowConfigChange: true }), 5);
  const c = await Trainer.create(tinyOptions(dir, 5, { executor, evalData: undefined }));
  await assert.rejects(c.run(), /already holds checkpoints \(ckpt-5\); call resume\(\)/);
  assert.equal(basename(dir).startsWith('retort-trainer-'), true);
});
