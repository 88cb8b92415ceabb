// `retort demo --task g2p --quick` as a user runs it: prompts and answers (CMUdict words and their
// pronunciations), a teacher trained on the task, a student taught by the teacher's answers
// (teacherAnswers + logit KD), a baseline on the references alone. The eval JSON must hold each
// model's task scores on held-out words and the answers side by side, and the distilled student
// must agree with the teacher more than the baseline does; the report renders in headless Chromium.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { parseEvalReport } from '../../src/eval/index.ts';
import { launchChromium } from './chromium.ts';
import { checkReport } from './report-check.ts';

const BIN = fileURLToPath(new URL('../../bin/retort.js', import.meta.url));
const out = join(mkdtempSync(join(tmpdir(), 'retort-g2p-e2e-')), 'demo');
after(() => rmSync(join(out, '..'), { recursive: true, force: true }));
const LIMIT_MS = 4 * 60_000;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('retort demo --task g2p --quick: task scores, answers side by side, a student closer to the teacher than the baseline', {
  timeout: LIMIT_MS + 60_000,
}, async () => {
  const r = await run(['demo', '--task', 'g2p', '--quick', '--out', out, '--json']);
  assert.equal(r.code, 0, `demo failed (exit ${r.code}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`);
  const { result } = JSON.parse(r.stdout) as { result: { ratio: number; seconds: number } };
  console.log(`retort demo --task g2p --quick: ${result.seconds.toFixed(1)} s`);
  assert.ok(result.ratio >= 8, `student ${result.ratio.toFixed(1)}× smaller`);
  assert.match(r.stderr, /format|teacherAnswers: \d+\/\d+ prompts answered by 'teacher'/);
  for (const f of [
    'report.html',
    'eval.json',
    'test.jsonl',
    'models/student/onnx/model.onnx',
    'runs/answers/answers.jsonl',
  ])
    assert.ok(existsSync(join(out, f)), f);

  const report = parseEvalReport(JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')), 'eval.json');
  const m = Object.fromEntries(report.models.map((x) => [x.name, x]));
  for (const name of ['teacher', 'student', 'baseline']) {
    const t = m[name]!.task!;
    assert.equal(t.items, 64);
    for (const k of [
      'exactMatch',
      'tokenF1',
      'chrF',
      'tokenErrorRate',
      'teacherExact',
      'teacherChrF',
      'teacherLogprob',
      'latencyMsPerAnswer',
    ] as const)
      assert.equal(typeof t[k], 'number', `${name}.task.${k}`);
  }
  assert.ok(
    m.student!.agreement!.top1! > m.baseline!.agreement!.top1!,
    `top-1 agreement: student ${m.student!.agreement!.top1} vs baseline ${m.baseline!.agreement!.top1}`,
  );
  assert.ok(
    m.student!.task!.teacherChrF! > m.baseline!.task!.teacherChrF!,
    `chrF against the teacher's answers: student ${m.student!.task!.teacherChrF} vs baseline ${m.baseline!.task!.teacherChrF}`,
  );
  assert.equal(report.examples!.length, 24);
  assert.deepEqual(Object.keys(report.examples![0]!.answers), ['teacher', 'student', 'baseline']);

  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /chart-exact-match/);
  const browser = await launchChromium();
  try {
    await checkReport(browser, join(out, 'report.html'));
  } finally {
    await browser.close();
  }
});
