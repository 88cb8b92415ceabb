// Keeps DISTILLATION.md honest: every ```yaml block that starts with `distill:` must parse with the
// real `distill` section schema (the one `retort distill` uses).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { parseRunConfig } from '../config/index.ts';
import { distillSectionSchema } from './from-config.ts';

const guide = readFileSync(new URL('../../../DISTILLATION.md', import.meta.url), 'utf8');
const blocks = [...guide.matchAll(/^```yaml\n([\s\S]*?)^```/gm)]
  .map((m) => m[1]!)
  .filter((b) => b.startsWith('distill:'));

test('DISTILLATION.md has distill examples', () => {
  assert.ok(blocks.length >= 10, `found ${blocks.length} distill blocks`);
});

test('the check rejects a misspelt field (so a drifted guide fails)', () => {
  const bad = parse('distill:\n  strategy: {kind: offline, topk: 20}\n') as { distill: unknown };
  assert.equal(distillSectionSchema.safeParse(bad.distill).success, false);
});

blocks.forEach((block, i) => {
  const kind = /^\s*(?:strategy: \{)?kind: (\w+)/m.exec(block.slice(block.indexOf('strategy:')))?.[1] ?? '?';
  test(`DISTILLATION.md distill block ${i + 1} (${kind})`, () => {
    const doc = parse(block) as { distill?: unknown };
    assert.deepEqual(Object.keys(doc), ['distill']);
    const r = distillSectionSchema.safeParse(doc.distill);
    assert.ok(r.success, `block ${i + 1} does not parse:\n${block}\n${r.success ? '' : r.error.message}`);
  });
});

// Whole run configs (```yaml blocks that start with `task:`) parse as `retort distill` reads them.
const runConfigs = [...guide.matchAll(/^```yaml\n([\s\S]*?)^```/gm)]
  .map((m) => m[1]!)
  .filter((b) => b.startsWith('task:'));

test('DISTILLATION.md has whole run configs (classifiers, tasks)', () => {
  assert.ok(runConfigs.length >= 2);
});

runConfigs.forEach((block, i) => {
  test(`DISTILLATION.md run config ${i + 1}`, () => {
    // The files a block names (its dataset, held-out file) exist in a folder of their own.
    const baseDir = mkdtempSync(join(tmpdir(), 'retort-guide-'));
    const value = parse(block) as { data?: { dataset?: string; validation?: { file?: string } } };
    for (const f of [value.data?.dataset, value.data?.validation?.file])
      if (f && /\.(jsonl|txt)$/.test(f)) writeFileSync(join(baseDir, f), '');
    const c = parseRunConfig(value, 'guide.yaml', { distill: distillSectionSchema, baseDir });
    rmSync(baseDir, { recursive: true, force: true });
    assert.ok(c.distill, 'the block has a distill section');
  });
});
