import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { add, input, mul } from '../graph/index.ts';
import { hostTensor } from './host.ts';
import { OrtExecutor } from './ort.ts';

test('an executor with profile writes one node event per node run when profiling ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'retort-profile-'));
  try {
    const executor = new OrtExecutor({ profile: join(dir, 'step') });
    const x = input('x', [4]);
    const program = await executor.compile({ y: add(mul(x, x), 1) }, { threads: 1 });
    const x0 = hostTensor('float32', [4], [1, 2, 3, 4]);
    for (let i = 0; i < 3; i++)
      assert.deepEqual(Array.from((await program.run({ x: x0 })).y!.data as Float32Array), [2, 5, 10, 17]);
    await executor.endProfiling();
    const files = readdirSync(dir).filter((f) => f.startsWith('step') && f.endsWith('.json'));
    assert.equal(files.length, 1, `one profile file, got ${files.join(', ')}`);
    const events = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as {
      cat: string;
      name: string;
      args?: { op_name?: string };
    }[];
    const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    assert.ok(kernels.length >= 3, `a node event per run, got ${kernels.length}`);
    assert.ok(kernels.every((e) => typeof e.args?.op_name === 'string'));
    assert.equal(events.filter((e) => e.name === 'model_run').length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('endProfiling is a no-op on an executor without profile', async () => {
  const executor = new OrtExecutor();
  await executor.compile({ y: add(input('x', [2]), 1) }, { threads: 1 });
  await executor.endProfiling();
});
