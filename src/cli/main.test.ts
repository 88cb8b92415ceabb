import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { parseEvalReport } from '../eval/index.ts';
import { cli } from './testing.ts';

const BIN = fileURLToPath(new URL('../../bin/retort.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'retort-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in this process; returns the exit code and what it printed. */

test('retort --help lists every command; no command is a usage error', async () => {
  const help = await cli('--help');
  assert.equal(help.code, 0);
  for (const c of ['train', 'label', 'distill', 'eval', 'export', 'serve', 'web', 'demo'])
    assert.match(help.out, new RegExp(`^  ${c}\\s+\\S`, 'm'), `${c} is listed`);
  const none = await cli();
  assert.equal(none.code, 2);
  assert.match(none.err, /usage: retort COMMAND/);
});

test('each command has help with usage, options and examples', async () => {
  for (const c of ['train', 'label', 'distill', 'eval', 'export', 'serve', 'web', 'demo']) {
    const r = await cli(c, '--help');
    assert.equal(r.code, 0, c);
    assert.match(r.out, new RegExp(`^usage: retort ${c}`), c);
    assert.match(r.out, /\nexamples:\n {2}retort /, c);
    assert.match(r.out, /--json/, c);
  }
  assert.deepEqual(await cli('help', 'eval'), await cli('eval', '--help'));
  const serve = (await cli('serve', '--help')).out;
  for (const [flag, dflt] of [
    ['--host ADDR', '127.0.0.1'],
    ['--port PORT', '8000'],
    ['--queue N', '256'],
    ['--max-body BYTES', '1048576'],
    ['--grace-ms MS', '10000'],
  ]) {
    assert.match(
      serve,
      new RegExp(`^  ${flag} .*\\(default ${dflt.replaceAll('.', '\\.')}\\)$`, 'm'),
      `serve --help lists ${flag} with its default`,
    );
  }
});

test('usage errors exit 2 and say what to fix', async () => {
  const unknown = await cli('trian');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command 'trian'; did you mean 'train'\?/);

  const noDir = await cli('web');
  assert.equal(noDir.code, 2);
  assert.match(
    noDir.err,
    /retort web: --dir: expected text, got nothing; fix: add --dir, e\.g\. "retort-demo\/models\/student" \(the export folder: config\.json, tokenizer\.json, onnx\/model\.onnx\)/,
  );
  assert.match(noDir.err, /usage: retort web --dir EXPORT_DIR/);

  const badPort = await cli('web', '--dir', dir, '--port', 'eighty');
  assert.equal(badPort.code, 2);
  assert.match(badPort.err, /--port: expected an integer, got "eighty"/);

  const missing = await cli('web', '--dir', join(dir, 'nope'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--dir: .*nope is not a folder; export a model first/);

  const flag = await cli('demo', '--quik');
  assert.equal(flag.code, 2);
  assert.match(flag.err, /Unknown option '--quik'; did you mean --quick\?/);

  const serve = await cli('serve', '--port', '1');
  assert.equal(serve.code, 2, 'serve parses its options like every command');
  assert.match(
    serve.err,
    /retort serve: expected MODEL \(a model folder, a checkpoint, or an \.onnx file\)\nusage: retort serve MODEL/,
  );
  const noModel = await cli('serve', join(dir, 'nope'));
  assert.equal(noModel.code, 2);
  assert.match(noModel.err, /retort serve: MODEL .*nope does not exist; pass a Hugging Face model folder/);
  const servePort = await cli('serve', dir, '--port', '70000');
  assert.equal(servePort.code, 2);
  assert.match(
    servePort.err,
    /retort serve: --port: expected a number ≤ 65535, got 70000; fix: set --port to a number ≤ 65535/,
  );

  const task = await cli('demo', '--task', 'translate');
  assert.equal(task.code, 2);
  assert.match(task.err, /--task: expected one of "lm", "spam", "g2p", got "translate"/);
});

test('--json prints one object on stdout, for failures too', async () => {
  const r = await cli('web', '--dir', join(dir, 'nope'), '--json');
  assert.equal(r.code, 2);
  const o = JSON.parse(r.out);
  assert.equal(o.ok, false);
  assert.equal(o.command, 'web');
  assert.equal(o.exitCode, 2);
  assert.equal(o.error.type, 'usage');
});

test('a config error names the file, the field and the fix (exit 2)', async () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    'model: {family: gpt2, config: {dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 16}}\ndata: {dataset: sotu}\noptimizer: {kind: adamw, lr: -1}\nsteps: 10\ncheckpoint: {dir: out}\n',
  );
  const r = await cli('train', file);
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /^bad\.yaml: optimizer\.lr: expected a positive number, got -1; fix: set optimizer\.lr to a positive number/m,
  );
  const j = JSON.parse((await cli('train', file, '--json')).out);
  assert.equal(j.error.type, 'config');
  assert.equal(j.error.issues[0].path, 'optimizer.lr');
  const none = await cli('train', join(dir, 'missing.yaml'));
  assert.equal(none.code, 2);
  assert.match(none.err, /missing\.yaml: no such file/);
});

test('train → export → eval on a small text file, through the CLI', async () => {
  const text = join(dir, 'corpus.txt');
  writeFileSync(text, 'the quick brown fox jumps over the lazy dog. '.repeat(200));
  const config = join(dir, 'tiny.json');
  writeFileSync(
    config,
    JSON.stringify({
      model: { family: 'gpt2', config: { dModel: 16, nLayers: 1, nHeads: 2, maxPositions: 16 } },
      data: { dataset: 'corpus.txt', seqLen: 16, batchSize: 4 },
      optimizer: { kind: 'adamw', lr: 0.01 },
      steps: 6,
      eval: { every: 3, batches: 2 },
      checkpoint: { dir: 'run' },
    }),
  );
  const train = await cli('train', config, '--json');
  assert.equal(train.code, 0, train.err);
  const t = JSON.parse(train.out).result;
  assert.equal(t.steps, 6);
  assert.ok(existsSync(join(t.model, 'model.safetensors')) && existsSync(join(t.model, 'tokenizer.json')));
  const again = await cli('train', config);
  assert.equal(again.code, 2, 'a second run into the same folder needs --resume');
  assert.match(again.err, /already holds checkpoints; pass --resume/);

  const out = join(dir, 'exported');
  const ex = await cli('export', '--model', t.model, '--out', out, '--int8');
  assert.equal(ex.code, 0, ex.err);
  assert.ok(
    existsSync(join(out, 'onnx', 'model.onnx')) &&
      existsSync(join(out, 'onnx', 'model_quantized.onnx')) &&
      existsSync(join(out, 'tokenizer.json')),
  );

  const ev = await cli(
    'eval',
    '--teacher',
    t.model,
    '--student',
    t.model,
    '--data',
    text,
    '--seq',
    '16',
    '--batch',
    '2',
    '--batches',
    '2',
    '--runs',
    '2',
    '--no-memory',
    '--json',
  );
  assert.equal(ev.code, 0, ev.err);
  const report = parseEvalReport(JSON.parse(ev.out).result);
  assert.deepEqual(
    report.models.map((m) => m.name),
    ['run', 'run-2'],
    'named by the run folder; the same folder twice gets -2',
  );
  assert.equal(report.models[1]!.agreement!.top1, 1);
  assert.equal(report.models[1]!.agreement!.kl, 0);
});

test('bin/retort.js runs the CLI through tsx with the same exit codes', () => {
  const ok = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /usage: retort COMMAND/);
  const bad = spawnSync(process.execPath, [BIN, 'eval', '--teacher'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /retort eval: Option '--teacher <value>' argument missing/);
});
