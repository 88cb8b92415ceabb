import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateAndExport } from './hf-generate-export.ts';

for (const fixture of ['tiny-gpt2', 'tiny-llama', 'tiny-qwen2']) {
  test(`README example: ${fixture} loads, generates, exports, and onnxruntime picks the same tokens`, async () => {
    const out = mkdtempSync(join(tmpdir(), 'retort-example-'));
    const r = await generateAndExport(join('fixtures', 'hf', fixture), out, '5,17,42,7', 10);
    assert.equal(r.tokens.length, 10);
    assert.deepEqual(r.onnxTokens, r.tokens);
    rmSync(out, { recursive: true });
  });
}
