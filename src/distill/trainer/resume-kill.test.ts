// The real thing: a training process killed with SIGKILL (no chance to clean up) right after a
// checkpoint, then resumed; the loss curve must be the uninterrupted run's, bit for bit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MetricsLog } from './metrics-log.ts';
import { tmpDirs } from './testing/tmp-dirs.ts';
import { tinyOptions } from './testing/tiny-run.ts';
import { Trainer } from './trainer.ts';

const script = fileURLToPath(new URL('./testing/tiny-run.ts', import.meta.url));
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const STEPS = 20;
const tmp = tmpDirs('retort-kill-');
const stepLosses = (dir: string) =>
  MetricsLog.read(join(dir, 'metrics.jsonl'))
    .filter((r) => r.type === 'step')
    .map((r) => [r.step, r.loss]);

/** Runs the tiny run in a child and SIGKILLs it as soon as it reports checkpoint `at`. */
function runAndKill(dir: string, at: number): Promise<{ signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(STEPS), '40'], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '',
      err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child never reported checkpoint ${at} within 25 s; stdout: ${out}; stderr: ${err}`));
    }, 25_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`checkpoint ${at}\n`)) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve({ signal, out });
    });
  });
}

test('a process killed with SIGKILL after ckpt-10 resumes to the same loss curve as an uninterrupted run', async () => {
  const [killed, ref] = await Promise.all([
    (async () => {
      const dir = tmp();
      return { dir, ...(await runAndKill(dir, 10)) };
    })(),
    (async () => {
      const dir = tmp();
      await (await Trainer.create(tinyOptions(dir, STEPS))).run();
      return dir;
    })(),
  ]);
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(!killed.out.includes('done'), 'the child was killed before finishing');
  const latest = readFileSync(join(killed.dir, 'latest'), 'utf8').trim();
  assert.ok(['ckpt-10', 'ckpt-15'].includes(latest), `latest is ${latest}`);

  const resumed = await Trainer.create(tinyOptions(killed.dir, STEPS));
  const from = await resumed.resume();
  assert.ok(from === 10 || from === 15);
  await resumed.run();
  assert.deepEqual(stepLosses(killed.dir), stepLosses(ref));
  assert.equal(stepLosses(ref).length, STEPS);
});
