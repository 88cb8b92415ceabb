// `retort web` as a process: it prints its URL, serves the page, the model and the vendored
// libraries from 127.0.0.1, refuses paths outside its roots, and exits 0 on SIGINT.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { exportDecoderOnnx } from '../export/index.ts';
import { Gpt2 } from '../models/gpt2/model.ts';
import { CharTokenizer } from '../models/tokenizers/char-tokenizer.ts';
import { ParamStore } from '../runtime/index.ts';

const BIN = fileURLToPath(new URL('../../bin/retort.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'retort-web-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('retort web serves the demo for an export folder and stops on SIGINT', async () => {
  const tok = CharTokenizer.fromCorpus(['hello web']);
  const model = new Gpt2({ vocabSize: tok.vocabSize, maxPositions: 16, dModel: 8, nLayers: 1, nHeads: 2 });
  exportDecoderOnnx(model, ParamStore.init(model.params.values(), 1), dir, { tokenizer: tok });

  const child = spawn(process.execPath, [BIN, 'web', '--dir', dir, '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((ok) => child.on('close', (code) => ok(code)));
  const url = await new Promise<string>((ok, fail) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.includes('"listening"'));
      if (line) ok((JSON.parse(line) as { url: string }).url);
    });
    child.on('close', (code) => fail(new Error(`retort web exited with ${code}: ${stderr}`)));
  });
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const get = (p: string) => fetch(new URL(p, url));
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/app\.js">/);
    const info = (await (await get('/api/info')).json()) as {
      name: string;
      files: { fp32: number; int8: number | null };
    };
    assert.equal(info.name, dir.split('/').at(-1));
    assert.ok(info.files.fp32 > 0);
    assert.equal(info.files.int8, null, 'no int8 file was exported');
    for (const p of [
      '/app.js',
      '/lm.js',
      '/model/config.json',
      '/model/tokenizer.json',
      '/vendor/ort/ort.wasm.min.mjs',
      '/vendor/ort/ort-wasm-simd-threaded.wasm',
      '/vendor/tokenizers/tokenizers.min.mjs',
    ]) {
      const r = await get(p);
      assert.equal(r.status, 200, p);
      await r.arrayBuffer();
    }
    assert.equal(
      (await get('/vendor/ort/ort-wasm-simd-threaded.wasm')).headers.get('content-type'),
      'application/wasm',
    );
    for (const p of ['/model/%2e%2e/%2e%2e/etc/passwd', '/vendor/ort/../../package.json', '/nope.js'])
      assert.equal((await get(p)).status, 404, p);
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, stderr);
});
