// End to end: a tiny student learns from a teacher it reaches only over HTTP. The teacher (the
// PyTorch-exported ONNX model) is served by `startServer` on 127.0.0.1; HttpTeacher asks it for
// top-k log-probs (completions with echo, token ids in and out); the student trains on those
// sparse targets with topkKdLoss in one TrainStep graph. Its KL to the teacher falls, on the
// batches it trains on and on a held-out one.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { topkKdLoss, topkKdSchema } from '../../distill/losses/index.ts';
import { input } from '../../graph/index.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { defaultAdamW, TrainStep } from '../../optim/index.ts';
import { defaultExecutor, hostTensor, type HostTensor } from '../../runtime/index.ts';
import { loadBackend } from '../../serve/backend.ts';
import { startServer } from '../../serve/server.ts';
import { HttpTeacher } from './teacher.ts';

const TEXT =
  'The cat sat on the mat. The dog sat on the log. The cat saw the dog and the dog saw the cat. The teacher speaks and the student listens. Red, green, blue. The sky is blue and the grass is green. ';
const B = 4,
  T = 16,
  K = 8;

function batch(start: number): HostTensor {
  const bytes = Buffer.from(TEXT.repeat(4), 'utf8');
  return hostTensor(
    'int64',
    [B, T],
    Array.from({ length: B * T }, (_, i) => bytes[start + Math.floor(i / T) * 37 + (i % T)]!),
  );
}

test('a student distilled over HTTP from top-k log-probs: KL to the teacher falls', async () => {
  const server = await startServer({
    backend: await loadBackend(join(import.meta.dirname, '../../../fixtures/onnx/tiny-gpt2.onnx')),
    concurrency: 2,
  });
  const teacher = new HttpTeacher({
    baseUrl: `${server.url}/v1`,
    model: 'tiny-gpt2',
    vocabSize: 257,
    concurrency: 4,
    env: {},
  });
  try {
    const train = [0, 5, 11, 23].map(batch);
    const heldOut = batch(151);
    // Teacher targets over the network, once per batch.
    const targets = await Promise.all([...train, heldOut].map((ids) => teacher.score({ ids, topK: K })));
    assert.equal(teacher.client.stats.network, 5 * B, 'one request per row');

    const student = new Gpt2({ vocabSize: 257, maxPositions: T, dModel: 32, nLayers: 1, nHeads: 2 });
    const ids = input('input_ids', [B, T], 'int64');
    const tIds = input('teacher_ids', [B, T, K], 'int64');
    const tLp = input('teacher_logprobs', [B, T, K], 'float32');
    const { loss } = topkKdLoss(
      { student: student.forward(ids).logits, teacher: { ids: tIds, logprobs: tLp } },
      topkKdSchema.parse({ kind: 'topk', alpha: 1 }),
    );
    const step = await TrainStep.create({ loss, optimizer: defaultAdamW({ weightDecay: 0 }), seed: 1 });
    const feeds = (i: number) => ({
      input_ids: i < 4 ? train[i]! : heldOut,
      teacher_ids: targets[i]!.topk!.ids,
      teacher_logprobs: targets[i]!.topk!.logprobs,
    });
    const evaluate = await (await defaultExecutor()).compile({ loss }, { name: 'kd_eval' });
    const heldKl = async () => {
      const f: Record<string, HostTensor> = feeds(4);
      for (const s of evaluate.inputs) if (s.kind === 'param') f[s.name] = step.params.get(s.name);
      return Number((await evaluate.run(f)).loss!.data[0]);
    };

    const before = await heldKl();
    const losses: number[] = [];
    for (let s = 0; s < 40; s++) losses.push((await step.run(feeds(s % 4), 3e-3)).loss);
    const after = await heldKl();
    const first = losses.slice(0, 4).reduce((a, b) => a + b) / 4,
      last = losses.slice(-4).reduce((a, b) => a + b) / 4;
    assert.ok(last < 0.6 * first, `training KL ${first.toFixed(3)} → ${last.toFixed(3)}`);
    assert.ok(after < 0.8 * before, `held-out KL ${before.toFixed(3)} → ${after.toFixed(3)}`);
  } finally {
    teacher.close();
    await server.close();
  }
});
