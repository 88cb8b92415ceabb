// `retort demo --quick` as a user runs it: the CLI in a child process, on a fresh output folder.
// It must leave the report, the exported student (fp32 + int8 ONNX with tokenizer.json) and an eval
// JSON in which the distilled student beats the same student trained on hard labels alone (same
// steps, same initialization, same batches):
//   - on agreement with the teacher: higher top-1 agreement and lower KL(teacher ‖ student);
//   - on held-out perplexity (lower), the point of distilling.
// It also checks the ≥ 8× size ratio, that the report renders in headless Chromium, and the time.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { parseEvalReport } from '../../src/eval/index.ts';
import { launchChromium } from './chromium.ts';
import { checkReport } from './report-check.ts';

const BIN = fileURLToPath(new URL('../../bin/retort.js', import.meta.url));
const out = join(mkdtempSync(join(tmpdir(), 'retort-demo-e2e-')), 'demo');
after(() => rmSync(join(out, '..'), { recursive: true, force: true }));

/** The quick demo's budget is 2 minutes on 2 cores; the test allows for a loaded machine. */
const LIMIT_MS = 6 * 60_000;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
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
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

test('retort demo --quick: report, ONNX student, eval JSON; distillation beats hard labels', {
  timeout: LIMIT_MS + 60_000,
}, async () => {
  const r = await run(['demo', '--quick', '--out', out, '--json']);
  assert.equal(r.code, 0, `demo failed (exit ${r.code}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`);
  const { ok, result } = JSON.parse(r.stdout) as {
    ok: boolean;
    result: { ratio: number; seconds: number; paths: Record<string, string>; web: string };
  };
  assert.ok(ok);
  console.log(
    `retort demo --quick took ${(r.ms / 1000).toFixed(1)} s (the demo's own clock: ${result.seconds.toFixed(1)} s)`,
  );
  assert.match(r.stderr, /step \d+\/\d+/, 'the trainer shows its progress');

  // Files a user is told about.
  const student = join(out, 'models', 'student');
  for (const f of ['onnx/model.onnx', 'onnx/model_quantized.onnx', 'tokenizer.json', 'config.json'])
    assert.ok(existsSync(join(student, f)), `student ${f}`);
  assert.ok(
    statSync(join(student, 'onnx/model_quantized.onnx')).size < statSync(join(student, 'onnx/model.onnx')).size,
    'int8 is smaller',
  );
  assert.equal(result.paths.student, student);
  assert.equal(result.web, `retort web --dir ${student}`);

  // The evaluation.
  const report = parseEvalReport(JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')), 'eval.json');
  const m = Object.fromEntries(report.models.map((x) => [x.name, x]));
  const [t, s, b] = [m.teacher!, m.student!, m.baseline!];
  assert.ok(
    t.params / s.params >= 8,
    `the student is ${(t.params / s.params).toFixed(1)}× smaller; at least 8× required`,
  );
  assert.equal(result.ratio, t.params / s.params);
  assert.equal(s.params, b.params, 'the baseline is the same student');
  assert.ok(
    s.agreement!.top1! > b.agreement!.top1!,
    `top-1 agreement with the teacher: distilled ${s.agreement!.top1} vs baseline ${b.agreement!.top1}`,
  );
  assert.ok(
    s.agreement!.kl! < b.agreement!.kl!,
    `KL(teacher‖student): distilled ${s.agreement!.kl} vs baseline ${b.agreement!.kl}`,
  );
  assert.ok(
    s.quality.perplexity! < b.quality.perplexity!,
    `held-out perplexity: distilled ${s.quality.perplexity} vs baseline ${b.quality.perplexity}`,
  );
  assert.ok(
    t.quality.perplexity! < b.quality.perplexity!,
    'the teacher is better than the baseline (else there is nothing to distill)',
  );
  for (const x of [t, s, b]) {
    assert.ok(x.files.fp32 && x.files.int8, `${x.name} has both ONNX files`);
    assert.ok(x.memory && x.memory.peakBytes > x.memory.baselineBytes, `${x.name} peak memory`);
    assert.ok(x.speed && x.speed.latencyMs.p50 > 0);
  }

  // The report renders in a browser: every chart drew, no console errors.
  const browser = await launchChromium();
  try {
    const canvases = await checkReport(browser, join(out, 'report.html'));
    assert.equal(canvases.length, 6, 'three training curves, two validation charts, size against quality');
  } finally {
    await browser.close();
  }
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok(html.includes('Sample generations (greedy)'));
  assert.ok(r.ms < LIMIT_MS);
});
