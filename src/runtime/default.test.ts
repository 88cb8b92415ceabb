import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const probe = `import { defaultExecutor } from './src/runtime/default.ts'; console.log((await defaultExecutor()).name);`;

test('the default executor is onnxruntime, and RETORT_EXECUTOR=reference selects the interpreter', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    }).stdout.trim();
  assert.equal(run({ RETORT_EXECUTOR: '' }), 'onnxruntime');
  assert.equal(run({ RETORT_EXECUTOR: 'reference' }), 'reference');
});
