// retort export --formats: ONNX and GGUF files from one model folder, each file's size printed; an
// unknown format or a tensor a format cannot hold is a usage error (exit 2) before anything is written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseEvalReport } from '../eval/index.ts';
import { readGguf } from '../export/gguf/read.ts';
import { Gpt2 } from '../models/gpt2/model.ts';
import { saveHfModel } from '../models/index.ts';
import { trainByteLevelBpe } from '../models/tokenizers/train-byte-level-bpe.ts';
import { ParamStore } from '../runtime/index.ts';
import { cli } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-cli-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const tokenizer = trainByteLevelBpe(['the state of the union is strong and the senate meets'], { vocabSize: 300 });
const save = (name: string, dModel: number) => {
  const model = new Gpt2({ vocabSize: 320, maxPositions: 64, dModel, nLayers: 1, nHeads: 2, eosTokenId: 0 } as never);
  saveHfModel(join(dir, name), model, ParamStore.init(model.params.values(), 4), { tokenizer });
  return join(dir, name);
};

test('retort export --formats writes ONNX and GGUF files and prints each size', async () => {
  const model = save('student', 64);
  const out = join(dir, 'shipped');
  const r = await cli(
    'export',
    '--model',
    model,
    '--out',
    out,
    '--formats',
    'onnx,int8,fp16,q4,q4f16,gguf-f16,gguf-q4_0',
  );
  assert.equal(r.code, 0, r.err);
  for (const f of [
    'onnx/model.onnx',
    'onnx/model_quantized.onnx',
    'onnx/model_q4.onnx',
    'gguf/model-f16.gguf',
    'gguf/model-q4_0.gguf',
  ]) {
    assert.ok(existsSync(join(out, f)), f);
    assert.match(r.out, new RegExp(`^  ${f.replace('.', '\\.')}\\s+\\d+\\.\\d\\d MB$`, 'm'), `${f}'s size is printed`);
  }
  assert.equal(readGguf(join(out, 'gguf/model-q4_0.gguf')).metadata.get('general.architecture'), 'gpt2');
  assert.ok(statSync(join(out, 'gguf/model-q4_0.gguf')).size < statSync(join(out, 'onnx/model.onnx')).size / 2);
});

test('an unknown format, or a width Q4_0 blocks do not divide, is refused before anything is written (exit 2)', async () => {
  const model = save('odd', 40);
  const unknown = await cli('export', '--model', model, '--out', join(dir, 'x'), '--formats', 'onnx,gguf-q5_k');
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.err,
    /--formats onnx,gguf-q5_k: unknown format 'gguf-q5_k'; the formats are onnx, int8, fp16, q4f16, q4, gguf-f32, gguf-f16, gguf-q8_0, gguf-q4_0/,
  );
  const odd = await cli('export', '--model', model, '--out', join(dir, 'odd-out'), '--formats', 'onnx,gguf-q4_0');
  assert.equal(odd.code, 2);
  assert.match(
    odd.err,
    /--formats gguf-q4_0: tensor 'token_embd\.weight' has rows of 40 values, which Q8_0's blocks of 32 do not divide/,
  );
  assert.equal(existsSync(join(dir, 'odd-out')), false, 'no ONNX file was written either');
});

test('retort eval gives each exported file a row: size, perplexity on the file itself (ONNX in onnxruntime, GGUF in llama.cpp), batch-1 ms, peak memory', async () => {
  const model = save('evaluated', 64);
  assert.equal(
    (await cli('export', '--model', model, '--out', model, '--formats', 'onnx,q4,fp16,gguf-f32,gguf-q8_0')).code,
    0,
  );
  const text = join(dir, 'held-out.txt');
  writeFileSync(text, 'the state of the union is strong and the senate meets again today. '.repeat(40));
  const r = await cli(
    'eval',
    '--teacher',
    model,
    '--student',
    model,
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
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const report = parseEvalReport(JSON.parse(r.out).result);
  const rows = report.models[0]!.exports!;
  assert.deepEqual(
    rows.map((x) => x.file),
    ['onnx/model.onnx', 'onnx/model_fp16.onnx', 'onnx/model_q4.onnx', 'gguf/model-f32.gguf', 'gguf/model-q8_0.gguf'],
  );
  const fp32 = rows[0]!;
  assert.ok(
    Math.abs(fp32.perplexity! - report.models[0]!.quality.perplexity!) < 1e-2 * fp32.perplexity!,
    'the fp32 file scores as the model does',
  );
  assert.ok(Math.abs(rows[1]!.perplexityChange!) < 0.01, 'fp16 within 1%');
  assert.ok(Number.isFinite(rows[2]!.perplexity!) && rows[2]!.bytes < 0.3 * fp32.bytes);
  assert.ok(
    rows.every((x) => x.latencyMs !== null && x.latencyMs > 0),
    'every file is timed',
  );
  assert.ok(
    rows.every((x) => x.peakBytes !== null && x.peakBytes > x.bytes),
    'every file has the peak memory of a process running it',
  );
  // llama.cpp's own forward over the F32 file gives the fp32 ONNX file's perplexity, up to its F16 KV cache and
  // ggml's GELU from an F16 table (0.4% here; a Llama file, SiLU, is within 0.05%).
  assert.equal(rows[3]!.format, 'gguf-f32');
  assert.ok(Math.abs(rows[3]!.perplexityChange!) < 0.01, `gguf f32 vs fp32: ${rows[3]!.perplexityChange}`);
  assert.ok(Math.abs(rows[4]!.perplexityChange!) < 0.02, `gguf q8_0 vs fp32: ${rows[4]!.perplexityChange}`);
  const table = await cli(
    'eval',
    '--teacher',
    model,
    '--student',
    model,
    '--data',
    text,
    '--seq',
    '16',
    '--batch',
    '2',
    '--batches',
    '1',
    '--no-speed',
    '--no-memory',
  );
  assert.match(
    table.out,
    /exported files \(ONNX in onnxruntime, GGUF in llama\.cpp; [^)]*\):\n\s+file\s+MB\s+vs fp32\s+ppl \(on the file\)\s+Δ ppl\s+batch-1 ms\s+peak MB\n\s+onnx\/model\.onnx/,
  );
});
