import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderReport, runData } from './report.ts';
import { sampleReportInput } from './testing.ts';

test('the report is one self-contained file: chart.js and the data inline, nothing fetched', () => {
  const html = renderReport(sampleReportInput());
  assert.match(html, /^<!doctype html>/);
  assert.ok(html.includes('Chart.js v4'), 'chart.js is inlined');
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i, 'no external scripts, styles or images');
  const ids = [...html.matchAll(/<canvas id="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(ids, ['chart-loss-0', 'chart-loss-1', 'chart-loss-2', 'chart-val-accuracy', 'chart-val-perplexity', 'chart-size-quality']);
  const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
  const data = JSON.parse(json);
  assert.equal(data.runs.length, 3);
  assert.equal(data.eval.models.length, 3);
});

test('text is escaped: titles, descriptions, prompts', () => {
  const html = renderReport(sampleReportInput());
  assert.ok(html.includes('<title>Retort demo &lt;test&gt;</title>'));
  assert.ok(html.includes('The state of the &lt;Union&gt;'));
  assert.ok(html.includes('SOTU addresses after 1900 &lt;held out&gt;'));
  assert.ok(!html.includes('<Union>'));
});

test('the teacher-vs-student table has a row per model with the eval figures', () => {
  const html = renderReport(sampleReportInput());
  const table = /<table class="eval">([\s\S]*?)<\/table>/.exec(html)![1]!;
  assert.equal([...table.matchAll(/<tr class="(teacher|student)">/g)].length, 3);
  assert.ok(table.includes('<th>ppl</th>') && table.includes('<th>top-1 agree</th>') && table.includes('<th>peak MB</th>'));
  assert.ok(table.includes('20.0×'), 'the student is 20× smaller than the teacher');
});

test('runData keeps steps and evaluations in order and drops non-finite values', () => {
  const r = runData(sampleReportInput().runs[1]!);
  assert.equal(r.steps.length, 40);
  assert.deepEqual(Object.keys(r.steps[0]!.terms), ['kd', 'kd/ce', 'hidden']);
  assert.deepEqual(r.evals.map((e) => e.step), [10, 20, 30, 40]);
});
