import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { StepRecord } from '../trainer/index.ts';
import type { BatchEvent } from './context.ts';
import type { OfflineTeacher } from './offline-teacher.ts';
import { parseDistillConfig, runDistill, strategyRules } from './pipeline.ts';
import { cleanup, randomTeacher, teacherEntry, tinyContext, tmpDir } from './testing.ts';

after(cleanup);

test('one config: an offline store for one teacher, a live second teacher, and on-policy batches', async () => {
  const ctx = await tinyContext(tmpDir(), 16, {
    teachers: [teacherEntry(randomTeacher('a', 11)), teacherEntry(randomTeacher('b', 12))],
  });
  const records: StepRecord[] = [];
  const batches: BatchEvent[] = [];
  ctx.hooks.onTrainerEvent = (_s, e) => void (e.type === 'step' && records.push(e.record));
  ctx.hooks.onBatch = (e) => batches.push(e);
  // As a CLI would pass it: plain JSON, validated here.
  const config = parseDistillConfig(
    JSON.parse(
      JSON.stringify({
        kind: 'pipeline',
        steps: [
          { kind: 'offline', teachers: ['a'], topK: 8, maxExamples: 64 },
          { kind: 'onPolicy', lambda: 0.5, promptTokens: 8 },
          { kind: 'kd' },
        ],
      }),
    ),
  );
  const r = await runDistill(ctx, config);

  assert.deepEqual(
    r.reports.map((x) => x.stage),
    ['1-offline', '2-onPolicy', '3-kd'],
  );
  assert.deepEqual(
    r.teachers.map((t) => [t.name, t.mode, t.teacher.kind]),
    [
      ['a', 'fed', 'store'],
      ['b', 'in-graph', 'retort'],
    ],
  );
  // The default term after offline + onPolicy: top-k KD with JSD β = 0.5, one term per teacher.
  assert.deepEqual(
    Object.keys(records[0]!.terms)
      .filter((k) => !k.includes('/'))
      .sort(),
    ['kd.a', 'kd.b'],
  );
  assert.equal(records.length, 16);
  for (const rec of records) assert.ok(Number.isFinite(rec.loss) && rec.terms['kd.a']! >= 0 && rec.terms['kd.b']! >= 0);
  const first = (t: string) => records.slice(0, 4).reduce((s, x) => s + x.terms[t]!, 0);
  const last = (t: string) => records.slice(-4).reduce((s, x) => s + x.terms[t]!, 0);
  assert.ok(last('kd.a') < first('kd.a') && last('kd.b') < first('kd.b'), "both teachers' terms fall");
  // Dataset batches came from the store; the student's own generations from the live teacher behind it.
  const generated = batches.filter((b) => b.origin === 'student').length;
  assert.ok(generated > 0 && generated < 16, `${generated} of 16 batches generated`);
  const served = (r.teachers[0]!.teacher as OfflineTeacher).served;
  assert.ok(
    served.store > 0 && served.live > 0,
    `rows from the store ${served.store}, from the live teacher ${served.live}`,
  );
  assert.equal(served.live, generated * 4, 'exactly the generated rows were scored live');
});

test('every strategy has a row with a schema, a citation and a role', () => {
  for (const [kind, rule] of Object.entries(strategyRules)) {
    assert.ok(rule.cite.length > 10, kind);
    assert.ok(['prepare', 'train'].includes(rule.role), kind);
    assert.equal((rule.schema.shape as { kind: { value: string } }).kind.value, kind);
  }
});
