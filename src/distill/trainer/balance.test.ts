import assert from 'node:assert/strict';
import { test } from 'node:test';
import { add, crossEntropy, mul } from '../../graph/index.ts';
import type { DecoderOutput } from '../../models/types.ts';
import { defaultExecutor } from '../../runtime/index.ts';
import { tmpDirs } from './testing/tmp-dirs.ts';
import { tinyOptions } from './testing/tiny-run.ts';
import { Trainer, type StepRecord, type TrainerOptions } from './trainer.ts';

const executor = await defaultExecutor();
const tmp = tmpDirs('retort-balance-');

// Two terms 1000× apart in scale: `big` is the same cross-entropy times 1000.
const twoScales = (dir: string, steps: number, over: Partial<TrainerOptions<DecoderOutput>> = {}) =>
  tinyOptions(dir, steps, {
    executor,
    evalData: undefined,
    checkpoint: { every: 5, keep: 0 },
    loss: (out, inputs, ctx) => {
      const ce = crossEntropy(out.logits, inputs.labels!);
      const big = mul(ce, 1000);
      return { total: add(mul(ce, ctx.weight('ce')), mul(big, ctx.weight('big'))), terms: { ce, big } };
    },
    lossWeights: () => ({ ce: 1, big: 1 }),
    balance: { mode: 'auto', emaDecay: 0.9 },
    ...over,
  });

async function run(
  o: TrainerOptions<DecoderOutput>,
  opts: { resume?: boolean; crashAt?: number } = {},
): Promise<StepRecord[]> {
  const records: StepRecord[] = [];
  const t = await Trainer.create({
    ...o,
    onEvent: (e) => {
      if (e.type !== 'step') return;
      records.push(e.record);
      if (e.record.step === opts.crashAt) throw new Error('simulated crash');
    },
  });
  if (opts.resume) await t.resume();
  await t.run().catch((err: Error) => assert.match(err.message, /simulated crash/));
  return records;
}

test("balance 'auto' weighs terms of different scales by their running means and reports the weights used", async () => {
  const records = await run(twoScales(tmp(), 8));
  assert.deepEqual(records[0]!.weights, { ce: 1, big: 1 }, 'before any observation the given weights are used');
  for (const r of records.slice(1)) {
    const ratio = r.weights.big! / r.weights.ce!;
    assert.ok(Math.abs(ratio * 1000 - 1) < 1e-4, `step ${r.step}: big is weighted 1/1000 of ce, got ratio ${ratio}`);
    // Each term now contributes about its given weight (1), up to how far the EMA lags the loss.
    for (const name of ['ce', 'big']) {
      const contribution = r.weights[name]! * r.terms[name]!;
      assert.ok(
        contribution > 0.7 && contribution < 1.3,
        `step ${r.step}: ${name} contributes ${contribution}, expected about 1`,
      );
    }
    assert.ok(
      Math.abs(r.loss - (r.weights.ce! * r.terms.ce! + r.weights.big! * r.terms.big!)) < 1e-3 * r.loss,
      `step ${r.step}: the step used the reported weights`,
    );
  }
});

test("balance 'auto' resumes exactly: the running means are checkpointed", async () => {
  const straight = await run(twoScales(tmp(), 10));
  const dir = tmp();
  await run(twoScales(dir, 10), { crashAt: 7 });
  const resumed = await run(twoScales(dir, 10), { resume: true });
  assert.deepEqual(
    resumed.map((r) => r.step),
    [6, 7, 8, 9, 10],
  );
  assert.deepEqual(
    resumed.map((r) => r.weights),
    straight.slice(5).map((r) => r.weights),
  );
  assert.deepEqual(
    resumed.map((r) => r.loss),
    straight.slice(5).map((r) => r.loss),
  );
});

test("balance 'auto' refuses a weight whose term the loss does not report", async () => {
  const o = twoScales(tmp(), 2, {
    loss: (out, inputs, ctx) => {
      const ce = crossEntropy(out.logits, inputs.labels!);
      return { total: mul(ce, ctx.weight('ce')), terms: {} };
    },
    lossWeights: () => ({ ce: 1 }),
  });
  await assert.rejects(Trainer.create(o), /balance 'auto'.*no term named 'ce'/);
});
